"""One attempt to send one recipient their message: the last gate, the provider call, and
what the outcome means for the recipient and for the campaign.

The provider's answer, classified by the provider itself (``Provider.classify``):

- accepted: the record moves to ``accepted`` with the message id, and receipts that arrived
  before it are applied (``receipts.own``);
- an account error (credentials, sender, setup): the campaign is paused with a message saying
  what to fix, and the recipient goes back to ``pending``: nobody is failed for it;
- a recipient error: the recipient fails, with the provider's code (``campaign retry
  --failed`` sends to them again); an opt-out at the provider also suppresses the number;
- a transient error (rate limited, the provider's trouble, unreachable): the recipient goes
  back to the queue and every worker holds off the campaign, backing off exponentially (with
  the provider's Retry-After when it gives one); status and progress show the error;
- ambiguous (the connection broke after the request was sent): the message is looked up at
  the provider; found, it is recorded; not found, it is retried; if the provider cannot say,
  the recipient is ``ambiguous`` and listed in the report for a person to decide.
"""

import json
import random
from collections.abc import Callable
from datetime import datetime

import httpx
import redis

from renderer.orchestrator import keys, links, receipts
from renderer.orchestrator.campaign import Campaign, CampaignError, Sender, fill_body
from renderer.orchestrator.gate import Gate
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.providers.base import (
    Ambiguous,
    Provider,
    ProviderError,
    Refused,
    Unreachable,
)

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 30.0  # seconds a campaign holds off after a transient error


class Attempts:
    def __init__(
        self,
        client: redis.Redis,
        provider: Provider,
        public_url: str,
        link_key: bytes,
        clock: Callable[[], datetime],
        providers: Callable[[str], Provider] | None = None,
    ):
        """``provider``: the deployment's; ``providers``: one by name, for a campaign that
        names its own."""
        self.redis, self.provider, self.clock = client, provider, clock
        self.providers = providers
        self.public_url, self.link_key = public_url, link_key
        self.gate = Gate(client)

    def attempt(
        self,
        ledger: Ledger,
        campaign: Campaign,
        key: str,
        record: dict,
        image: str | Exception,
    ) -> str:
        """Send, if the gate allows it at this instant. Returns what happened: sent, skipped,
        deferred, failed, retry, paused, ambiguous, or the state another worker moved the
        recipient to."""
        if isinstance(image, Exception):
            return self.skip(ledger, key, "image", str(image))
        sender = campaign.sender_for(record["phone"])
        try:
            body = self._body(campaign, record, image)
        except CampaignError as exc:
            return self.skip(ledger, key, "body", str(exc))
        now = self.clock()
        verdict = self.gate.quiet_hours(campaign, record, now)
        if verdict.action == "defer":
            ledger.defer(key, verdict.until, verdict.reason)
            return "deferred"
        member = f"{ledger.id}|{now.isoformat()}"
        sent = {"attempt_at": now.isoformat(), "body": body, "image_url": image}
        claimed = ledger.claim(key, **sent, sender=sender.key, reservation=member)
        if claimed == "paused":
            ledger.requeue(key)
        if claimed == "cancelled":
            return self.skip(ledger, key, "cancelled", "the campaign was cancelled")
        if claimed != "ok":
            return claimed
        verdict = self.gate.reserve(campaign, key, record, now, member)
        if verdict.action == "skip":
            return self.skip(ledger, key, verdict.reason, "", allowed=("sending",))
        if verdict.action == "defer":
            ledger.defer(key, verdict.until, verdict.reason, allowed=("sending",))
            return "deferred"
        return self._call(ledger, campaign, key, {**record, **sent}, sender, member)

    def _call(self, ledger, campaign, key, record, sender: Sender, member: str) -> str:
        mms = record.get("mms", "1") == "1"
        provider = self.provider_for(campaign)
        try:
            accepted = provider.send(
                record["phone"],
                sender.number,
                sender.messaging_service_sid,
                record["body"],
                record["image_url"] if mms else None,
                f"{self.public_url}/v1/webhooks/status",
            )
        except Refused as exc:
            self.gate.release(key, member)
            return self._refused(ledger, key, exc, provider)
        except Unreachable as exc:
            self.gate.release(key, member)
            return self._transient(ledger, key, "unreachable", str(exc), None)
        except Ambiguous as exc:
            found = self.look_up(ledger, campaign, key, record, str(exc))
            if found == "pending":
                return self._transient(ledger, key, "ambiguous", str(exc), None, moved=True)
            return found
        self.accepted(ledger, key, accepted.sid, provider)
        return "sent"

    def look_up(self, ledger: Ledger, campaign: Campaign, key: str, record: dict, why: str) -> str:
        """A record left in ``sending`` (a crash, or an ambiguous answer): ask the provider;
        resend only if it says there is no such message. Returns the state now."""
        sender = campaign.sender_for(record["phone"])
        provider = self.provider_for(campaign)
        try:
            sid = provider.find(
                record["phone"],
                sender.number,
                datetime.fromisoformat(record["attempt_at"]),
                record.get("body", ""),
            )
        except (httpx.HTTPError, KeyError, ValueError, ProviderError):
            reason = f"{why}; the provider could not be asked"
            ledger.move(key, ["sending"], "ambiguous", reason=reason[:300])
            ledger.redis.sadd(ledger.ambiguous, key)
            return "ambiguous"
        if sid:
            self.accepted(ledger, key, sid, provider)
            return "accepted"
        if record.get("reservation"):
            self.gate.release(key, record["reservation"])
        ledger.move(key, ["sending"], "pending")
        ledger.count("resent_after_lookup")
        return "pending"

    def provider_for(self, campaign: Campaign) -> Provider:
        if campaign.provider and self.providers is not None:
            return self.providers(campaign.provider)
        return self.provider

    def accepted(self, ledger: Ledger, key: str, sid: str, provider: Provider) -> None:
        """Record the message id and apply receipts held for it: one round trip (in this
        order: the move, then the owner, so a held receipt finds the record accepted)."""
        now = self.clock()
        pipe = self.redis.pipeline(transaction=False)
        ledger.move_in(pipe, key, ["sending"], "accepted", sid=sid, accepted_at=now.isoformat())
        receipts.own(pipe, sid, ledger.id, key)
        pipe.hincrby(ledger.rate, now.strftime("%Y-%m-%dT%H:%M"), 1)
        pipe.hget(ledger.control_key, "streak")
        _, held, _, streak = pipe.execute()
        receipts.apply_held(self.redis, sid, ledger.id, key, held, provider.classify)
        if streak not in (None, "0"):
            ledger.note_success()

    def _refused(self, ledger: Ledger, key: str, exc: Refused, provider: Provider) -> str:
        kind = provider.classify(exc.code)
        if kind == "transient":
            return self._transient(ledger, key, exc.code, exc.message, exc.retry_after)
        if kind == "account":
            ledger.move(key, ["sending"], "pending")
            ledger.requeue(key)
            ledger.pause_for_account(exc.code, exc.message)
            return "paused"
        if kind == "opted_out":
            self.redis.sadd(keys.SUPPRESSED, key)
        ledger.move(key, ["sending"], "failed", error=exc.code, reason=exc.message[:200])
        ledger.count(f"error:{exc.code}")
        return "failed"

    def _transient(self, ledger, key, code, message, retry_after, moved=False) -> str:
        """Back to the queue; every worker holds off this campaign for a while."""
        if not moved:
            ledger.move(key, ["sending"], "pending")
        ledger.requeue(key)
        streak = int(ledger.control().get("streak") or 0)
        hold = min(BACKOFF_MAX, BACKOFF_FIRST * 2**streak) * random.uniform(0.5, 1.0)
        ledger.note_transient(f"{code}: {message}"[:300], max(hold, retry_after or 0))
        ledger.count(f"retry:{code}")
        return "retry"

    def _body(self, campaign: Campaign, record: dict, image: str) -> str:
        variant = campaign.variant_named(record["variant"])
        values = json.loads(record.get("values") or "{}")
        tracked = {
            url: f"{self.public_url}/c/"
            + links.link_code(self.link_key, campaign.id, variant.name, index)
            for index, url in enumerate(campaign.links)
        }
        if record.get("mms", "1") == "1":
            return fill_body(variant.body, values, tracked)
        short = links.image_link(self.redis, self.public_url, image)
        return fill_body(variant.fallback_body, {**values, "image_link": short}, tracked)

    @staticmethod
    def skip(ledger, key, reason: str, detail: str, allowed=("pending",)) -> str:
        text = f"{reason}: {detail}" if detail else reason
        if ledger.move(key, allowed, "skipped", reason=text[:300]):
            ledger.count(f"skip:{reason}")
        return "skipped"
