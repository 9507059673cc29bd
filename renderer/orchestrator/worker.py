"""The life of one recipient's send, worked from the campaign's job stream.

A worker reads jobs with a consumer group (so any number of workers on any number of
machines share a campaign), and takes over jobs a dead worker left pending after
``claim_seconds``. For each recipient: the compliance gate (suppression, quiet hours in their
time zones, frequency cap: deferred, not dropped), a pre-rendered image URL pinned at the
send's time, the message body with tracked links, the sender's rate limit, and the provider
call, with the ledger moved to ``sending`` before it and to the outcome after it.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import redis

from renderer.orchestrator import compliance, keys, links
from renderer.orchestrator.campaign import Campaign, CampaignError, Sender, fill_body
from renderer.orchestrator.ledger import GROUP, Ledger
from renderer.orchestrator.providers.base import (
    Ambiguous,
    PermanentFailure,
    Provider,
    ProviderBusy,
)
from renderer.orchestrator.ratelimit import RateLimiter

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 5


class RenderServiceDown(Exception):
    """The render service cannot give image URLs now: the jobs wait, nobody is skipped."""


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


class Worker:
    def __init__(self, setup: Setup, name: str):
        self.setup, self.name = setup, name
        self.limiter = RateLimiter(setup.redis)
        self.http = httpx.Client(timeout=120)
        self.campaigns: dict[str, Campaign] = {}
        self.template_fields: dict[str, dict[str, str]] = {}

    def run(self, only: str | None = None, until_idle: bool = False) -> None:
        """Work every active campaign (or ``only``) until stopped; ``until_idle`` returns when
        nothing is left but deferrals more than a minute away (quiet hours, caps)."""
        while True:
            ids = [only] if only else sorted(self.setup.redis.smembers(keys.ACTIVE_CAMPAIGNS))
            handled, open_work, soon = 0, 0, False
            horizon = (self.setup.clock() + timedelta(seconds=60)).timestamp()
            for cid in ids:
                ledger = Ledger(self.setup.redis, cid)
                handled += self.step(ledger)
                unsettled = ledger.open_work()
                open_work += unsettled - ledger.redis.zcard(ledger.deferred)
                due = ledger.next_deferred()
                soon = soon or (due is not None and due <= horizon)
                if unsettled == 0 and ledger.redis.hget(ledger.counts, "enqueued"):
                    self.setup.redis.srem(keys.ACTIVE_CAMPAIGNS, cid)
            if until_idle and handled == 0 and open_work <= 0 and not soon:
                return
            if handled == 0:
                time.sleep(0.2)

    def step(self, ledger: Ledger) -> int:
        """One round on one campaign: due deferrals, abandoned jobs, then new ones."""
        campaign = self._campaign(ledger)
        if campaign is None:
            return 0
        now = self.setup.clock()
        if campaign.schedule and now < campaign.schedule:
            return 0
        ledger.release_due(now)
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
            self._handle(ledger, campaign, [(eid, f["r"]) for eid, f in entries if f])
        return len(entries)

    def _campaign(self, ledger: Ledger) -> Campaign | None:
        if ledger.id not in self.campaigns:
            raw = self.setup.redis.get(ledger.definition)
            if raw is None:
                return None
            self.campaigns[ledger.id] = Campaign.from_dict(json.loads(raw))
        return self.campaigns[ledger.id]

    def _handle(self, ledger: Ledger, campaign: Campaign, jobs: list[tuple[str, str]]) -> None:
        ready = []
        for entry, key in jobs:
            record = ledger.record(key)
            state = record.get("state")
            if state == "sending":
                state = self._after_crash(ledger, campaign, key, record)
            if state == "pending" and self._gate(ledger, campaign, key, record):
                ready.append((entry, key, record))
            elif state != "pending":
                ledger.redis.xack(ledger.jobs, GROUP, entry)
        if ready:
            try:
                self._send_all(ledger, campaign, ready)
            except RenderServiceDown as exc:  # left unacknowledged: retried after claim_seconds
                log.warning("campaign %s: %s; will retry", ledger.id, exc)
                time.sleep(1)

    def _gate(self, ledger: Ledger, campaign: Campaign, key: str, record: dict) -> bool:
        """True when the recipient may be sent to now; else skipped or deferred."""
        if ledger.redis.sismember(keys.SUPPRESSED, key):
            ledger.move(key, ["pending"], "skipped", reason="suppressed")
            ledger.count("skip:suppressed")
            return False
        now = self.setup.clock()
        phone = record["phone"]
        window = compliance.window_for(campaign, phone)
        opening = compliance.next_opening(
            window, compliance.zones(phone, record.get("timezone") or None), now
        )
        if opening is not None:
            ledger.defer(key, opening, "quiet_hours")
            return False
        cap = min(campaign.cap_messages, window.max_per_24h or campaign.cap_messages)
        hours = campaign.cap_hours if window.max_per_24h is None else max(campaign.cap_hours, 24)
        history = keys.frequency(key)
        since = (now - timedelta(hours=hours)).timestamp()
        recent = ledger.redis.zrangebyscore(history, since, "+inf", withscores=True)
        if len(recent) >= cap:
            free_at = datetime.fromtimestamp(recent[len(recent) - cap][1], UTC)
            ledger.defer(key, free_at + timedelta(hours=hours), "frequency_cap")
            return False
        return True

    def _after_crash(self, ledger: Ledger, campaign: Campaign, key: str, record: dict) -> str:
        """A job found mid-send: ask the provider; resend only if it says there is none."""
        sender = self._sender(campaign, record["phone"])
        try:
            sid = self.setup.provider.find(
                record["phone"],
                sender.number,
                datetime.fromisoformat(record["attempt_at"]),
                record.get("body", ""),
            )
        except (httpx.HTTPError, KeyError, ValueError):
            ledger.move(key, ["sending"], "ambiguous", reason="crashed mid-call; lookup failed")
            ledger.redis.sadd(ledger.ambiguous, key)
            return "ambiguous"
        if sid:
            self._accepted(ledger, key, sid)
            return "accepted"
        ledger.move(key, ["sending"], "pending")
        ledger.count("resent_after_lookup")
        return "pending"

    def _send_all(self, ledger: Ledger, campaign: Campaign, ready: list) -> None:
        now = self.setup.clock()
        images = self._images(ledger, campaign, [(key, record) for _, key, record in ready], now)
        for entry, key, record in ready:
            variant = next(v for v in campaign.variants if v.name == record["variant"])
            image = images.get(key)
            if isinstance(image, Exception):
                self._skip(ledger, key, "image", str(image))
            else:
                self._send_one(ledger, campaign, variant, key, record, image)
            ledger.redis.xack(ledger.jobs, GROUP, entry)

    def _send_one(self, ledger, campaign, variant, key, record, image: str) -> None:
        values = json.loads(record.get("values") or "{}")
        mms = record.get("mms", "1") == "1"
        tracked = {
            url: f"{self.setup.public_url}/c/"
            + links.link_code(self.setup.link_key, campaign.id, variant.name, index)
            for index, url in enumerate(campaign.links)
        }
        try:
            if mms:
                body = fill_body(variant.body, values, tracked)
            else:
                short = links.image_link(self.setup.redis, self.setup.public_url, image)
                body = fill_body(variant.fallback_body, {**values, "image_link": short}, tracked)
        except CampaignError as exc:
            self._skip(ledger, key, "body", str(exc))
            return
        sender = self._sender(campaign, record["phone"])
        self.limiter.acquire(sender.key, sender.mps)
        attempt = self.setup.clock().isoformat()
        if not ledger.move(
            key,
            ["pending"],
            "sending",
            attempt_at=attempt,
            body=body,
            image_url=image,
            sender=sender.key,
        ):
            return  # another worker has it
        try:
            accepted = self.setup.provider.send(
                record["phone"],
                sender.number,
                sender.messaging_service_sid,
                body,
                image if mms else None,
                f"{self.setup.public_url}/v1/webhooks/status",
            )
        except PermanentFailure as exc:
            ledger.move(key, ["sending"], "failed", error=exc.code, reason=exc.message[:200])
            ledger.count(f"error:{exc.code}")
            return
        except Ambiguous as exc:
            ledger.move(key, ["sending"], "ambiguous", reason=str(exc))
            ledger.redis.sadd(ledger.ambiguous, key)
            return
        except ProviderBusy:
            ledger.move(key, ["sending"], "pending")
            ledger.defer(
                key, self.setup.clock() + timedelta(seconds=BUSY_RETRY_SECONDS), "provider_busy"
            )
            return
        self._accepted(ledger, key, accepted.sid)

    def _accepted(self, ledger: Ledger, key: str, sid: str) -> None:
        now = self.setup.clock()
        ledger.move(key, ["sending"], "accepted", sid=sid, accepted_at=now.isoformat())
        ledger.redis.set(keys.message_owner(sid), f"{ledger.id}|{key}", ex=30 * 24 * 3600)
        ledger.redis.zadd(keys.frequency(key), {sid: now.timestamp()})
        ledger.redis.expire(keys.frequency(key), 8 * 24 * 3600)
        ledger.redis.hincrby(ledger.rate, now.strftime("%Y-%m-%dT%H:%M"), 1)

    def _images(self, ledger, campaign, recipients, now) -> dict[str, str | Exception]:
        """Signed image URLs pinned at ``now``, pre-rendered by the service in one batch per
        template, so the provider's fetch is a cache hit."""
        out: dict[str, str | Exception] = {}
        by_template: dict[str, list] = {}
        for key, record in recipients:
            variant = next(v for v in campaign.variants if v.name == record["variant"])
            by_template.setdefault(variant.template, []).append((key, record, variant))
        for template, group in by_template.items():
            fields = self._fields(template)
            values = []
            for _, record, variant in group:
                row = json.loads(record.get("values") or "{}")
                chosen = {k: v for k, v in row.items() if k in fields and fields[k] != "live"}
                for name, kind in fields.items():
                    if kind == "qr" and campaign.qr_link:
                        index = campaign.links.index(campaign.qr_link)
                        chosen[name] = f"{self.setup.public_url}/c/" + links.link_code(
                            self.setup.link_key, campaign.id, variant.name, index
                        )
                values.append(chosen)
            response = self.http.post(
                f"{self.setup.render_url}/v1/urls",
                headers={"Authorization": f"Bearer {self.setup.api_key}"},
                json={
                    "template": template,
                    "format": campaign.format,
                    "at": int(now.timestamp()),
                    "prerender": True,
                    "recipients": values,
                },
            )
            if response.status_code != 200:
                failure = RuntimeError(f"render service answered {response.status_code}")
                out.update(dict.fromkeys((key for key, _, _ in group), failure))
                continue
            answer = response.json()
            problems: dict[int, list[str]] = {}
            for error in answer["errors"]:
                problems.setdefault(error["index"], []).append(
                    f"{error.get('field') or 'image'}: {error['message']}"
                )
            for index, (key, _, _) in enumerate(group):
                url = answer["urls"][index]
                out[key] = (
                    url
                    if url and index not in problems
                    else ValueError("; ".join(problems.get(index, ["no URL"])))
                )
        return out

    def _fields(self, template: str) -> dict[str, str]:
        """The template's fields and their kinds, from the render service (cached)."""
        if template not in self.template_fields:
            summary = self.http.get(f"{self.setup.render_url}/v1/templates/{template}").json()
            self.template_fields[template] = {
                name: "live" if spec.get("live") else spec["type"]
                for name, spec in summary["fields"].items()
            }
        return self.template_fields[template]

    def _sender(self, campaign: Campaign, phone: str) -> Sender:
        """The same sender for a recipient every time (a conversation stays on one number)."""
        index = int(hashlib.sha256(phone.encode()).hexdigest(), 16) % len(campaign.senders)
        return campaign.senders[index]

    def _skip(self, ledger: Ledger, key: str, reason: str, detail: str) -> None:
        ledger.move(key, ["pending"], "skipped", reason=f"{reason}: {detail}"[:300])
        ledger.count(f"skip:{reason}")
