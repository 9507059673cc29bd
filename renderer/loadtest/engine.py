"""The open loop: each request leaves at its scheduled time whatever the others are doing, and
its latency is measured from that scheduled time, not from when it was sent. A server that
stalls for a second is charged that second by every request scheduled during the stall (the
"coordinated omission" a closed loop, which waits for an answer before it sends again, hides).

Requests go through one aiohttp session (measured here: about 5x the requests per second of
httpx's client on the same core, which matters when the generator shares the machine). A cap
on connections bounds sockets; a request waiting for one is still timed from its schedule.
"""

import asyncio
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import yarl

from renderer.loadtest.schedule import KINDS, Arrival
from renderer.loadtest.traffic import Traffic

OUTCOMES = ("ok", "error", "503", "timeout")
SOURCES = ("", "l1", "l2", "shared", "render")  # X-Cache: where the image's bytes came from


@dataclass(frozen=True)
class Options:
    timeout: float = 10.0  # seconds per attempt
    connections: int = 256  # open at once, at most
    honour_retry_after: bool = False  # retry a 503 after its Retry-After
    max_retries: int = 3
    max_requests: int | None = None
    duration: float | None = None  # no arrival scheduled at or after this many seconds
    progress: bool = True


class Recorder:
    """One row per request, in compact columns (a million requests take about 40 MB)."""

    def __init__(self) -> None:
        self.scheduled = array("d")  # seconds from the start of the run
        self.sent = array("d")  # when it actually left (lag = sent - scheduled)
        self.latency = array("d")  # seconds from scheduled to the last byte of the answer
        self.kind = array("b")
        self.outcome = array("b")
        self.status = array("h")  # 0: no HTTP answer
        self.source = array("b")
        self.step = array("h")
        self.retries = array("b")
        self.in_flight = 0
        self.sent_count = 0
        self.counts = dict.fromkeys(OUTCOMES, 0)

    def add(
        self,
        arrival: Arrival,
        sent: float,
        latency: float,
        status: int,
        outcome: str,
        source: str,
        retries: int,
    ) -> None:
        self.scheduled.append(arrival.at)
        self.sent.append(sent)
        self.latency.append(latency)
        self.kind.append(KINDS.index(arrival.kind))
        self.outcome.append(OUTCOMES.index(outcome))
        self.status.append(status)
        self.source.append(SOURCES.index(source) if source in SOURCES else 0)
        self.step.append(arrival.step)
        self.retries.append(retries)
        self.counts[outcome] += 1

    def __len__(self) -> int:
        return len(self.latency)


async def drive(
    arrivals: Iterable[Arrival],
    traffic: Traffic,
    options: Options,
    recorder: Recorder,
    session: aiohttp.ClientSession,
    offset: float = 0.0,
) -> None:
    """Send every arrival at its time and wait for the last answer. ``offset``: the time of
    the first arrival, when this is a later part of a longer run (find-max's next step)."""
    loop = asyncio.get_running_loop()
    start = loop.time() - offset
    tasks: set[asyncio.Task] = set()
    ticker = loop.create_task(_progress(recorder, start, loop)) if options.progress else None
    for arrival in arrivals:
        if options.max_requests is not None and recorder.sent_count >= options.max_requests:
            break
        if options.duration is not None and arrival.at >= options.duration:
            break
        delay = start + arrival.at - loop.time()
        await asyncio.sleep(delay if delay > 0 else 0)
        recorder.sent_count += 1
        task = loop.create_task(_one(session, traffic, arrival, start, options, recorder))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    if ticker:
        ticker.cancel()
        if sys.stderr.isatty():
            print(file=sys.stderr)


def session(options: Options) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=options.connections, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
    )


async def _one(
    session, traffic: Traffic, arrival: Arrival, start: float, options: Options, recorder: Recorder
) -> None:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    request = traffic.make(arrival)
    recorder.in_flight += 1
    status, outcome, source, retries, body = 0, "error", "", 0, b""
    while True:
        try:
            async with asyncio.timeout(options.timeout):
                async with session.request(
                    request.method,
                    yarl.URL(request.url, encoded=True),
                    data=request.body,
                    headers=request.headers,
                ) as response:
                    body = await response.read()
                    status = response.status
                    source = response.headers.get("X-Cache", "")
                    retry_after = response.headers.get("Retry-After", "")
            outcome = "ok" if status < 400 else "503" if status == 503 else "error"
        except TimeoutError:
            status, outcome = 0, "timeout"
        except (aiohttp.ClientError, OSError):
            status, outcome = 0, "error"
        if outcome == "503" and options.honour_retry_after and retries < options.max_retries:
            retries += 1
            await asyncio.sleep(_seconds(retry_after))
            continue
        break
    recorder.in_flight -= 1
    recorder.add(
        arrival, sent - start, loop.time() - (start + arrival.at), status, outcome, source, retries
    )
    traffic.learn(request, status, body)


def _seconds(retry_after: str) -> float:
    """Retry-After in seconds (an HTTP date is read as 1 s: this service sends seconds)."""
    try:
        return min(max(float(retry_after), 0.0), 60.0)
    except ValueError:
        return 1.0


async def _progress(recorder: Recorder, start: float, loop) -> None:
    """A line a second on a terminal (a line every 10 s otherwise): the last second's sent
    and answered rates, p50/p99 of its answers, and the failures so far."""
    tty = sys.stderr.isatty()
    seen, sent_before, ticks = 0, 0, 0
    while True:
        await asyncio.sleep(1.0)
        ticks += 1
        done = len(recorder)
        latencies = sorted(
            recorder.latency[i] for i in range(seen, done) if recorder.outcome[i] == 0
        )
        failed = [recorder.counts[outcome] for outcome in OUTCOMES[1:]]
        line = (
            f"{loop.time() - start:6.0f} s  sent {recorder.sent_count - sent_before:5d}/s  "
            f"ok {len(latencies):5d}/s  p50 {_ms(latencies, 0.5)}  p99 {_ms(latencies, 0.99)}  "
            f"in flight {recorder.in_flight:4d}  errors {failed[0]}  503s {failed[1]}  "
            f"timeouts {failed[2]}"
        )
        seen, sent_before = done, recorder.sent_count
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif ticks % 10 == 0:
            print(line, file=sys.stderr, flush=True)


def _ms(ordered: list[float], share: float) -> str:
    if not ordered:
        return "     - ms"
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:6.1f} ms"
