"""Scenarios 2 and 3, over real HTTP on loopback: cache hits against a bare Starlette route
serving the same bytes, and unique renders at rising concurrency.

Servers run as separate processes under uvicorn with the same number of workers. The load
generator is wrk when it is installed (cache hits only: one URL), else the bundled asyncio
client below: one keep-alive connection per concurrent client, every request timed. Request
counts are bounded; nothing runs past its count.
"""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.stats import summary
from renderer import embedded
from renderer.service.signing import sign_url
from renderer.settings import DEV_SIGNING_KEYS

ROOT = Path(__file__).resolve().parent.parent
AT = 1795000000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server process on a free port, stopped on exit, with a data folder of its own (the
    service keeps its template store in an embedded Redis there), removed with it."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = Path(tempfile.mkdtemp(prefix="bench-data-"))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
        environment["RENDERER_DATA_DIR"] = str(self.data)
        self.process = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            cwd=ROOT,
            env={**environment, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{command} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        embedded.stop(self.data)
        shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process and its descendants (uvicorn's workers) have
    used so far, from Linux's /proc. Unlike throughput, the CPU a request costs hardly moves
    with what else the machine runs."""
    ticks, total, pending = TICKS, 0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(stat[11]) + int(stat[12])  # utime, stime: fields 14 and 15
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total / ticks


def service(workers: int) -> Process:
    return Process(
        [sys.executable, "-m", "renderer", "serve", "--port", "{port}", "--workers", str(workers)]
    )


def bare(workers: int, body: Path) -> Process:
    return Process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            "{port}",
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={"BENCH_BODY": str(body)},
    )


def image_url(base: str, name: str) -> str:
    kid, secret = next(iter(DEV_SIGNING_KEYS.items()))
    return sign_url(base, "flash_sale", "jpg", {"first_name": name}, kid=kid, secret=secret, at=AT)


async def _client(host, port, paths, next_index, total, latencies, statuses) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (index := next_index()) < total:
            path = paths[index % len(paths)]
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - started)
            statuses[int(head.split(b" ", 2)[1])] += 1
    finally:
        writer.close()


def drive(urls: list[str], concurrency: int, total: int) -> dict:
    """``total`` GETs over ``concurrency`` keep-alive connections; latencies and statuses."""
    parts = urlsplit(urls[0])
    paths = [url[url.index(parts.path) :] for url in urls]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    counter = iter(range(10**9))

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(
                    parts.hostname,
                    parts.port,
                    paths,
                    lambda: next(counter),
                    total,
                    latencies,
                    statuses,
                )
                for _ in range(concurrency)
            )
        )
        return time.perf_counter() - started

    wall = asyncio.run(run())
    return {
        "generator": "asyncio",
        "concurrency": concurrency,
        "requests": len(latencies),
        "req_per_s": len(latencies) / wall,
        **summary(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": sum(v for k, v in statuses.items() if k >= 500 and k != 503),
        "503s": statuses.get(503, 0),
        "samples_ms": [s * 1000 for s in latencies],
    }


def wrk(urls: list[str], concurrency: int, seconds: int) -> list[dict]:
    """One wrk per URL, all at the same time, so that each server sees the same machine: on a
    shared, noisy one, measuring them one after the other compares two different moments."""
    runs = [
        subprocess.Popen(
            ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for url in urls
    ]
    return [_wrk_figures(run.communicate(timeout=seconds + 30)[0], concurrency) for run in runs]


def _wrk_figures(output: str, concurrency: int) -> dict:

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*?(\d+) timeout", output)
    return {
        "generator": "wrk",
        "concurrency": concurrency,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (int(socket_errors.group(1)) if socket_errors else 0),
    }


def cache_hits(workers: int, requests: int, concurrency: int, scratch: Path, rounds: int) -> dict:
    """Our /i/ path serving a cached image vs a bare route serving the same bytes, in rounds
    (the machine is shared and noisy): with wrk both at once, else one after the other. The
    ratio is the median of the rounds' ratios; each server's figures are its median round."""
    with service(workers) as ours:
        url = image_url(ours.url, "Hit")
        body = httpx.get(url).content
        for _ in range(workers * 4):  # every worker's L1
            httpx.get(url)
        body_file = scratch / "hit.jpg"
        body_file.write_bytes(body)
        with bare(workers, body_file) as baseline:
            bare_url = baseline.url + url.removeprefix(ours.url)  # the same request line
            use_wrk = shutil.which("wrk") is not None and not os.environ.get("BENCH_NO_WRK")
            ours_rounds, bare_rounds = [], []
            for _ in range(rounds):
                cpu = [cpu_seconds(server.process.pid) for server in (ours, baseline)]
                if use_wrk:  # side by side
                    measured, reference = wrk([url, bare_url], concurrency, 3)
                else:  # one after the other: the asyncio client is the bottleneck
                    measured = drive([url], concurrency, requests)
                    reference = drive([bare_url], concurrency, requests)
                for server, before, figures in zip(
                    (ours, baseline), cpu, (measured, reference), strict=True
                ):
                    # /proc counts in clock ticks: a short quick run may use less than one
                    used = max(cpu_seconds(server.process.pid) - before, 1 / TICKS)
                    figures["cpu_us_per_request"] = used / max(1, figures["requests"]) * 1e6
                ours_rounds.append(measured)
                bare_rounds.append(reference)
    pairs = list(zip(ours_rounds, bare_rounds, strict=True))
    ratios = sorted(o["req_per_s"] / b["req_per_s"] for o, b in pairs)
    efficiency = sorted(b["cpu_us_per_request"] / o["cpu_us_per_request"] for o, b in pairs)
    middle = len(ratios) // 2
    return {
        "bytes": len(body),
        "workers": workers,
        "rounds": rounds,
        "service": sorted(ours_rounds, key=lambda r: r["req_per_s"])[middle],
        "bare_starlette": sorted(bare_rounds, key=lambda r: r["req_per_s"])[middle],
        # each round's service figure over the bare one measured with it
        "round_ratios": ratios,
        "service_over_bare_throughput": ratios[middle],
        # hits per CPU-second, the service's over the bare route's, per round and the median
        "round_cpu_ratios": efficiency,
        "service_over_bare_per_cpu": efficiency[middle],
    }


def unique_renders(workers: int, levels: tuple[int, ...], per_level: int) -> list[dict]:
    """Every request a new name: renders through the service at rising concurrency."""
    rows = []
    with service(workers) as ours:
        httpx.get(image_url(ours.url, "warm-up"))
        for concurrency in levels:
            count = max(per_level, 3 * concurrency)
            urls = [image_url(ours.url, f"c{concurrency}-{i}") for i in range(count)]
            rows.append({"workers": workers, **drive(urls, concurrency, count)})
    return rows
