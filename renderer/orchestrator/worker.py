"""Workers: the campaigns' job streams, worked by any number of processes on any machines.

A worker reads jobs with a consumer group (so workers share a campaign), and takes over jobs
a dead worker left pending after ``claim_seconds``. Each job it reads is first prechecked
(suppressed, quiet hours, frequency cap: skipped or deferred without spending a rate-limit
token); the rest are sent one by one, each after the sender's rate-limit token and through
the whole gate again at that instant (``attempt.py``, ``gate.py``). Images are fetched just
ahead of the sends that use them and fetched again when more than ``IMAGE_FRESH_SECONDS``
old, so a countdown shows the moment of the actual send, deferred or not.

A paused campaign (an account error, or ``campaign pause``) is not worked until ``campaign
resume``; a cancelled one is drained (everything left is skipped).
"""

import json
import logging
import time
from collections.abc import Callable
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


@dataclass
class Setup:
    """What every worker needs; ``clock`` is injectable so tests can move time."""

    redis: redis.Redis
    provider: Provider
    render_url: str  # the render service, for signed and pre-rendered image URLs
    api_key: str
    public_url: str  # where tracked links and status callbacks point
    link_key: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    claim_seconds: float = 30.0
    batch: int = 50


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
            setup.redis, setup.provider, setup.public_url, setup.link_key, setup.clock
        )
        self.campaigns: dict[str, Campaign] = {}

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
            count=self.setup.batch,
        )[1]
        entries = claimed or [
            entry
            for _, batch in self.setup.redis.xreadgroup(
                GROUP, self.name, {ledger.jobs: ">"}, count=self.setup.batch, block=100
            )
            or []
            for entry in batch
        ]
        if entries:
            jobs = [(eid, f["r"]) for eid, f in entries if f]
            self._handle(ledger, campaign, jobs, cancelled=state == "cancelled")
        return len(entries)

    def _campaign(self, ledger: Ledger) -> Campaign | None:
        if ledger.id not in self.campaigns:
            raw = self.setup.redis.get(ledger.definition)
            if raw is None:
                return None
            self.campaigns[ledger.id] = Campaign.from_dict(json.loads(raw))
        return self.campaigns[ledger.id]

    def _handle(self, ledger: Ledger, campaign: Campaign, jobs: list, cancelled: bool) -> None:
        ready = []
        for entry, key in jobs:
            record = ledger.record(key)
            state = record.get("state")
            if state == "sending":
                state = self.attempts.look_up(ledger, campaign, key, record, "crashed mid-call")
            if state == "pending" and cancelled:
                self.attempts.skip(ledger, key, "cancelled", "the campaign was cancelled")
            elif state == "pending" and self._precheck(ledger, campaign, key, record):
                ready.append(Job(entry, key, record))
                continue
            ledger.redis.xack(ledger.jobs, GROUP, entry)
        if ready:
            try:
                self._send(ledger, campaign, ready)
            except RenderServiceDown as exc:  # left unacknowledged: retried after claim_seconds
                log.warning("campaign %s: %s; will retry", ledger.id, exc)
                time.sleep(1)

    def _precheck(self, ledger: Ledger, campaign: Campaign, key: str, record: dict) -> bool:
        """True when the recipient may be sent to now; else skipped or deferred."""
        verdict = self.attempts.gate.precheck(campaign, key, record, self.setup.clock())
        if verdict.action == "skip":
            self.attempts.skip(ledger, key, verdict.reason, "")
        elif verdict.action == "defer":
            ledger.defer(key, verdict.until, verdict.reason)
        return verdict.action == "send"

    def _send(self, ledger: Ledger, campaign: Campaign, jobs: list[Job]) -> None:
        """Each job through the rate limit and the last gate; images fetched just ahead."""
        images: dict[str, str | Exception] = {}
        pinned = self.setup.clock()
        chunk = max(1, min(self.setup.batch, int(campaign.mps * 2)))
        for index, job in enumerate(jobs):
            if not self._wait_for_provider(ledger):  # paused or cancelled meanwhile
                for rest in jobs[index:]:
                    ledger.requeue(rest.key)
                    ledger.redis.xack(ledger.jobs, GROUP, rest.entry)
                return
            now = self.setup.clock()
            if job.key not in images or (now - pinned).total_seconds() > IMAGE_FRESH_SECONDS:
                upcoming = jobs[index : index + chunk]
                images = self.images.pinned(campaign, [(j.key, j.record) for j in upcoming], now)
                pinned = now
            sender = campaign.sender_for(job.record["phone"])
            self.limiter.acquire(sender.key, sender.mps)
            self.attempts.attempt(ledger, campaign, job.key, job.record, images[job.key])
            ledger.redis.xack(ledger.jobs, GROUP, job.entry)

    def _wait_for_provider(self, ledger: Ledger) -> bool:
        """Sleep while the campaign holds off after a transient provider error (shared by
        every worker); False if it is paused or cancelled."""
        while True:
            control = ledger.control()
            if control.get("state", "running") != "running":
                return False
            wait = float(control.get("hold_until") or 0) - time.time()
            if wait <= 0:
                return True
            time.sleep(min(wait, 0.5))

    def close(self) -> None:
        self.images.close()
