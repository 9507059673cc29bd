"""The compliance gate, evaluated at the instant of each provider call.

For every attempt, after the sender's rate-limit token and immediately before the request:

1. quiet hours, in every time zone of the number, with the clock read then;
2. the claim (``Ledger.claim``): the record moves ``pending -> sending`` only if the campaign
   is neither paused nor cancelled, in one atomic step;
3. then, in one round trip: the suppression list, and the frequency cap, which reserves the
   recipient's slot atomically (two campaigns can never both take the last one).

Why a STOP can never be overtaken: the claim is written *before* the suppression list is read,
and the STOP webhook writes the suppression list *before* it looks for records in
``sending`` (and waits for them to finish, ``webhooks.settle``). Whichever comes second sees
the other: either the worker sees the STOP and sends nothing, or the webhook sees the send in
flight and answers only once it has reached the provider. So after a STOP is acknowledged, no
provider call for that number starts, on any worker; and no step spans two Redis hash slots,
so the argument holds on Redis Cluster too.

``precheck`` runs the same rules, read-only, when a job is picked up, so that recipients who
are plainly deferred or suppressed do not spend rate-limit tokens.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis

from renderer import redis_client
from renderer.orchestrator import compliance, keys
from renderer.orchestrator.campaign import Campaign

# KEYS[1]: the recipient's recent sends (a sorted set, score = time). ARGV: now, window in
# seconds, cap, reservation member ("" to only look), ttl. Returns "" when there is room
# (and reserves it), else the time of the send that must age out first.
_RESERVE = """
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[5]))
local recent = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf', 'WITHSCORES')
local count = #recent / 2
if count >= cap then return recent[(count - cap) * 2 + 2] end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return ''
"""
HISTORY_SECONDS = 8 * 24 * 3600  # sends older than this (or the longest cap window) drop out


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "skip", "defer"]
    reason: str = ""
    until: datetime | None = None


SEND = Verdict("send")


class Gate:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._reserve = redis_client.Script(client, _RESERVE)

    def quiet_hours(self, campaign: Campaign, record: dict, now: datetime) -> Verdict:
        """Deferred to the next opening unless the window is open now in every zone."""
        phone = record["phone"]
        window = compliance.window_for(campaign, phone)
        zones = compliance.zones(phone, record.get("timezone") or None)
        opening = compliance.next_opening(window, zones, now)
        return SEND if opening is None else Verdict("defer", "quiet_hours", opening)

    def precheck(
        self, campaign: Campaign, jobs: list[tuple[str, dict]], now: datetime
    ) -> list[Verdict]:
        """The gate, read-only, for each (key, record): what would happen if the call were
        made now. One round trip for all of them."""
        hours = [self.quiet_hours(campaign, record, now) for _, record in jobs]
        pipe = self.redis.pipeline(transaction=False)
        for (key, record), verdict in zip(jobs, hours, strict=True):
            pipe.sismember(keys.SUPPRESSED, key)
            if verdict.action == "send":
                self._cap(campaign, key, record, now, "", pipe)
        answers = iter(pipe.execute() if jobs else [])
        verdicts = []
        for verdict, (_, record) in zip(hours, jobs, strict=True):
            suppressed = next(answers)
            oldest = next(answers) if verdict.action == "send" else ""
            if suppressed:
                verdict = Verdict("skip", "suppressed")
            elif verdict.action == "send":
                verdict = self._capped(oldest, campaign, record)
            verdicts.append(verdict)
        return verdicts

    def reserve(
        self, campaign: Campaign, key: str, record: dict, now: datetime, member: str
    ) -> Verdict:
        """After the claim: the suppression list, then the cap, reserving the slot as
        ``member`` (released by ``release`` if the message is not accepted)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.sismember(keys.SUPPRESSED, key)
        self._cap(campaign, key, record, now, member, pipe)
        suppressed, oldest = pipe.execute()
        if suppressed:
            if not oldest:
                self.release(key, member)
            return Verdict("skip", "suppressed")
        return self._capped(oldest, campaign, record)

    def release(self, key: str, member: str) -> None:
        self.redis.zrem(keys.frequency(key), member)

    def _cap(self, campaign, key, record, now, member, client=None):
        """The reservation script's answer (or its place in ``client``'s pipeline)."""
        cap, seconds = _cap_of(campaign, record["phone"])
        return self._reserve(
            keys=[keys.frequency(key)],
            args=[now.timestamp(), seconds, cap, member, max(HISTORY_SECONDS, int(seconds))],
            client=client,
        )

    @staticmethod
    def _capped(oldest: str, campaign: Campaign, record: dict) -> Verdict:
        if not oldest:
            return SEND
        seconds = _cap_of(campaign, record["phone"])[1]
        until = datetime.fromtimestamp(float(oldest), UTC) + timedelta(seconds=seconds)
        return Verdict("defer", "frequency_cap", until)


def _cap_of(campaign: Campaign, phone: str) -> tuple[int, float]:
    """The recipient's cap: the campaign's, or the stricter state rule's (per 24 h)."""
    window = compliance.window_for(campaign, phone)
    if window.max_per_24h is None:
        return campaign.cap_messages, campaign.cap_hours * 3600
    return min(campaign.cap_messages, window.max_per_24h), max(campaign.cap_hours, 24) * 3600
