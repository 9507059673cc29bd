"""Workers: the campaigns' job streams, worked by any number of processes on any machines.

A worker reads jobs with a consumer group (so workers share a campaign), and takes over jobs
a dead worker left pending after ``claim_seconds``. Each batch it reads is first prechecked
in one round trip (suppressed, quiet hours, frequency cap: skipped or deferred without
spending a rate-limit token). The rest are sent on a pool of ``concurrency`` threads: the
dispatcher takes a free slot of the pool, then the sender's rate-limit token (handed out in
blocks, ``ratelimit.py``), and the thread runs the whole gate again at that instant and makes
the provider call (``attempt.py``, ``gate.py``), over kept-alive connections. Images are
prerendered a chunk ahead: the next chunk's are fetched while this one is sent, and fetched
again when more than ``IMAGE_FRESH_SECONDS`` old, so a countdown shows the moment of the
actual send, deferred or not. Jobs are acknowledged in bulk once their records say how they
ended (a job acknowledged late is only looked at again: the record's state decides).

A paused campaign (an account error, or ``campaign pause``) is not worked until ``campaign
resume``; a cancelled one is drained (everything left is skipped).
"""

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from renderer.orchestrator import keys
from renderer.orchestrator.attempt import Attempts
from renderer.orchestrator.campaign import Campaign
from renderer.orchestrator.images import ImageURLs, RenderServiceDown
from renderer.orchestrator.ledger import GROUP, Ledger
from renderer.orchestrator.providers.base import Provider
from renderer.orchestrator.ratelimit import RateLimiter

log = logging.getLogger(__name__)
IMAGE_FRESH_SECONDS = 5.0
CONTROL_SECONDS = 0.1  # how stale the dispatcher's view of pause and backoff may be
PRERENDER_CHUNK = 50  # recipients per prerender request (at most a second's sends)


@dataclass
class Setup:
    """What every worker needs; ``clock`` is injectable so tests can move time."""

    redis: redis.Redis
    provider: Provider  # the deployment's
    render_url: str  # the render service, for signed and pre-rendered image URLs
    api_key: str
    public_url: str  # where tracked links and status callbacks point
    link_key: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    claim_seconds: float = 30.0
    batch: int = 200  # jobs read at a time (fewer at a low rate: see ``step``)
    concurrency: int = 32  # provider calls in flight per worker
    providers: Callable[[str], Provider] | None = None  # by name: a campaign's own


@dataclass
class Job:
    entry: str  # the stream entry
    key: str  # the recipient
    record: dict[str, str]


class Worker:
    def __init__(self, setup: Setup, name: str):
        self.setup, self.name = setup, name
        self.limiter = RateLimiter(setup.redis)
        self.images = ImageURLs(setup.render_url, setup.api_key, setup.public_url, setup.link_key)
        self.attempts = Attempts(
            setup.redis,
            setup.provider,
            setup.public_url,
            setup.link_key,
            setup.clock,
            setup.providers,
        )
        self.campaigns: dict[str, Campaign] = {}
        self._control: tuple[str, float, dict] = ("", 0.0, {})  # campaign, read at, state
        self.pool = ThreadPoolExecutor(setup.concurrency, thread_name_prefix="send")
        self.prerender = ThreadPoolExecutor(1, thread_name_prefix="prerender")

    def run(
        self, only: str | None = None, until_idle: bool = False, stop_on_pause: bool = False
    ) -> str:
        """Work every active campaign (or ``only``) until stopped. With ``until_idle``,
        return ``idle`` when nothing is left but deferrals more than a minute away; with
        ``stop_on_pause``, return ``paused`` as soon as ``only`` is paused."""
        while True:
            ids = [only] if only else sorted(self.setup.redis.smembers(keys.ACTIVE_CAMPAIGNS))
            handled, waiting = 0, False
            horizon = (self.setup.clock() + timedelta(seconds=60)).timestamp()
            for cid in ids:
                ledger = Ledger(self.setup.redis, cid)
                handled += self.step(ledger)
                state = ledger.control().get("state", "running")
                if stop_on_pause and state == "paused":
                    return "paused"
                unsettled = ledger.open_work()
                due = ledger.next_deferred()
                queued = unsettled - ledger.redis.zcard(ledger.deferred)
                if state != "paused" and (queued > 0 or (due is not None and due <= horizon)):
                    waiting = True
                if unsettled == 0 and ledger.redis.hget(ledger.counts, "enqueued"):
                    self.setup.redis.srem(keys.ACTIVE_CAMPAIGNS, cid)
            if until_idle and handled == 0 and not waiting:
                return "idle"
            if handled == 0:
                time.sleep(0.2)

    def step(self, ledger: Ledger) -> int:
        """One round on one campaign: due deferrals, abandoned jobs, then new ones."""
        campaign = self._campaign(ledger)
        if campaign is None:
            return 0
        state = ledger.control().get("state", "running")
        if state == "paused":
            return 0
        now = self.setup.clock()
        if state != "cancelled" and campaign.schedule and now < campaign.schedule:
            return 0
        ledger.release_due(None if state == "cancelled" else now)
        claimed = self.setup.redis.xautoclaim(
            ledger.jobs,
            GROUP,
            self.name,
            int(self.setup.claim_seconds * 1000),
            "0-0",
            count=self._reads(campaign),
        )[1]
        entries = claimed or [
            entry
            for _, batch in self.setup.redis.xreadgroup(
                GROUP, self.name, {ledger.jobs: ">"}, count=self._reads(campaign), block=100
            )
            or []
            for entry in batch
        ]
        if entries:
            jobs = [(eid, f["r"]) for eid, f in entries if f]
            self._handle(ledger, campaign, jobs, cancelled=state == "cancelled")
        return len(entries)

    def _reads(self, campaign: Campaign) -> int:
        """Jobs read at a time: ``batch``, or about five seconds' worth at the campaign's
        rate, so that a slow campaign's jobs are not left pending long enough to be claimed
        by another worker."""
        return max(1, min(self.setup.batch, int(campaign.mps * 5)))

    def _campaign(self, ledger: Ledger) -> Campaign | None:
        if ledger.id not in self.campaigns:
            raw = self.setup.redis.get(ledger.definition)
            if raw is None:
                return None
            self.campaigns[ledger.id] = Campaign.from_dict(json.loads(raw))
        return self.campaigns[ledger.id]

    def _handle(self, ledger: Ledger, campaign: Campaign, jobs: list, cancelled: bool) -> None:
        records = ledger.records([key for _, key in jobs])
        done, candidates = [], []
        for (entry, key), record in zip(jobs, records, strict=True):
            state = record.get("state")
            if state == "sending":
                state = self.attempts.look_up(ledger, campaign, key, record, "crashed mid-call")
            if state == "pending" and cancelled:
                self.attempts.skip(ledger, key, "cancelled", "the campaign was cancelled")
            elif state == "pending":
                candidates.append(Job(entry, key, record))
                continue
            done.append(entry)
        ready = self._precheck(ledger, campaign, candidates)
        going = {job.entry for job in ready}
        done += [job.entry for job in candidates if job.entry not in going]
        ledger.ack(done)
        if ready:
            try:
                self._send(ledger, campaign, ready)
            except RenderServiceDown as exc:  # left unacknowledged: retried after claim_seconds
                log.warning("campaign %s: %s; will retry", ledger.id, exc)
                time.sleep(1)

    def _precheck(self, ledger: Ledger, campaign: Campaign, jobs: list[Job]) -> list[Job]:
        """The jobs whose recipients may be sent to now; the others skipped or deferred."""
        verdicts = self.attempts.gate.precheck(
            campaign, [(job.key, job.record) for job in jobs], self.setup.clock()
        )
        for job, verdict in zip(jobs, verdicts, strict=True):
            if verdict.action == "skip":
                self.attempts.skip(ledger, job.key, verdict.reason, "")
            elif verdict.action == "defer":
                ledger.defer(job.key, verdict.until, verdict.reason)
        return [job for job, v in zip(jobs, verdicts, strict=True) if v.action == "send"]

    def _send(self, ledger: Ledger, campaign: Campaign, jobs: list[Job]) -> None:
        """Each job after its sender's rate-limit token, then through the last gate and the
        provider call on the send pool. In flight at most: ``concurrency``, and no more
        than a fifth of a second's sends at the campaign's rate (one at up to 9 mps), so
        that calls held up on their way cannot bunch at the provider beyond what the rate
        limit's 0.2 s margin allows. Images for the next chunk are fetched while this one
        is sent."""
        chunk = max(1, min(PRERENDER_CHUNK, int(campaign.mps)))
        chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
        senders = Counter(campaign.sender_for(job.record["phone"]).key for job in jobs)
        flight = Flight(self.pool, max(1, min(self.setup.concurrency, int(campaign.mps / 5))))
        upcoming = self._fetch_ahead(campaign, chunks[0])
        try:
            for index, part in enumerate(chunks):
                pinned, images = upcoming.result()
                if index + 1 < len(chunks):
                    upcoming = self._fetch_ahead(campaign, chunks[index + 1])
                for position, job in enumerate(part):
                    if not self._wait_for_provider(ledger):  # paused or cancelled meanwhile
                        rest = [j for later in chunks[index:] for j in later][position:]
                        for job in rest:
                            ledger.requeue(job.key)
                        flight.done.extend(job.entry for job in rest)
                        return
                    if (self.setup.clock() - pinned).total_seconds() > IMAGE_FRESH_SECONDS:
                        pinned, images = self._images(campaign, part[position:])
                    sender = campaign.sender_for(job.record["phone"])
                    flight.reserve()
                    self.limiter.acquire(sender.key, sender.mps, senders[sender.key])
                    senders[sender.key] -= 1
                    flight.start(self._attempt, ledger, campaign, job, images[job.key])
        finally:
            try:
                flight.finish()
            finally:
                ledger.ack(flight.done)

    def _attempt(self, ledger: Ledger, campaign: Campaign, job: Job, image) -> str:
        self.attempts.attempt(ledger, campaign, job.key, job.record, image)
        return job.entry

    def _fetch_ahead(self, campaign: Campaign, jobs: list[Job]) -> Future:
        return self.prerender.submit(self._images, campaign, jobs)

    def _images(self, campaign: Campaign, jobs: list[Job]) -> tuple[datetime, dict]:
        """Image URLs for ``jobs``, pinned (and prerendered) at this moment."""
        now = self.setup.clock()
        return now, self.images.pinned(campaign, [(j.key, j.record) for j in jobs], now)

    def _wait_for_provider(self, ledger: Ledger) -> bool:
        """Sleep while the campaign holds off after a transient provider error (shared by
        every worker); False if it is paused or cancelled. The run state is read at most
        every ``CONTROL_SECONDS``: a pause stops the very next call anyway (the claim checks
        it, atomically), and this keeps a round trip per send off the dispatcher."""
        while True:
            cached_id, read_at, control = self._control
            if cached_id != ledger.id or time.monotonic() - read_at > CONTROL_SECONDS:
                control = ledger.control()
                self._control = (ledger.id, time.monotonic(), control)
            if control.get("state", "running") != "running":
                return False
            wait = float(control.get("hold_until") or 0) - time.time()
            if wait <= 0:
                return True
            time.sleep(min(wait, 0.5))
            self._control = ("", 0.0, {})  # read it again after the wait

    def close(self) -> None:
        self.pool.shutdown()
        self.prerender.shutdown()
        self.images.close()


class Flight:
    """The sends in flight on the pool: at most ``limit``; the job entries finished."""

    def __init__(self, pool: ThreadPoolExecutor, limit: int):
        self.pool, self.slots = pool, threading.BoundedSemaphore(limit)
        self.futures: list[Future] = []
        self.done: list[str] = []

    def reserve(self) -> None:
        """Wait for a free slot (before taking a rate-limit token, so the token is used at
        once)."""
        self.slots.acquire()

    def start(self, fn, *args) -> None:
        future = self.pool.submit(fn, *args)
        future.add_done_callback(lambda _: self.slots.release())
        self.futures.append(future)

    def finish(self) -> None:
        """Wait for every send; an error in one is raised once all have ended."""
        wait(self.futures)
        failed = None
        for future in self.futures:
            if future.exception() is None:
                self.done.append(future.result())
            else:
                failed = failed or future.exception()
        if failed is not None:
            raise failed
