"""The durable record of every recipient's send, in Redis, and the job stream that works it.

Each recipient of a campaign has a hash whose ``state`` moves, atomically (Lua) and with its
counters, through::

    pending -> sending -> accepted -> sent -> delivered | failed
    pending -> deferred -> pending           (quiet hours, frequency cap)
    pending -> skipped                       (no opt-in, suppressed, bad row)
    sending -> ambiguous                     (crashed mid-call, and the provider cannot say)

A transition names the states it may start from, so two workers can never both move a
recipient to ``sending``: that is what makes a send happen once. Keys of one campaign share
the hash tag ``{campaign-id}``, so the same code runs on Redis Cluster.
"""

import json
from collections.abc import Iterable
from datetime import datetime

import redis

from renderer.orchestrator import keys

GROUP = "workers"

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'skip:duplicate', 1)
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HINCRBY', KEYS[3], 'state:' .. ARGV[2], 1)
redis.call('HINCRBY', KEYS[3], 'v:' .. ARGV[3] .. ':state:' .. ARGV[2], 1)
if ARGV[2] == 'pending' then redis.call('XADD', KEYS[2], '*', 'r', ARGV[1]) end
return 1
"""

_MOVE = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return '' end
if not string.find(',' .. ARGV[1] .. ',', ',' .. current .. ',', 1, true) then
  return current
end
local variant = redis.call('HGET', KEYS[1], 'variant')
redis.call('HSET', KEYS[1], 'state', ARGV[2], unpack(ARGV, 3))
for _, prefix in ipairs({'state:', 'v:' .. variant .. ':state:'}) do
  redis.call('HINCRBY', KEYS[2], prefix .. current, -1)
  redis.call('HINCRBY', KEYS[2], prefix .. ARGV[2], 1)
end
return 'ok'
"""


class Ledger:
    """One campaign's records, job stream, deferrals and counters."""

    def __init__(self, client: redis.Redis, campaign_id: str):
        self.redis = client
        self.id = campaign_id
        names = keys.CampaignKeys(campaign_id)
        self.definition = names.definition
        self.jobs = names.jobs
        self.deferred = names.deferred
        self.counts = names.counts
        self.rate = names.rate
        self.row_errors = names.row_errors
        self.ambiguous = names.ambiguous
        self.clicks = names.clicks
        self.recipient_key = names.recipient
        self._create = client.register_script(_CREATE)
        self._move = client.register_script(_MOVE)

    def start(self, definition: dict) -> None:
        self.redis.set(self.definition, json.dumps(definition))
        try:
            self.redis.xgroup_create(self.jobs, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:  # BUSYGROUP: a second send of the same campaign
            if "BUSYGROUP" not in str(exc):
                raise
        self.redis.sadd(keys.ACTIVE_CAMPAIGNS, self.id)
        self.redis.sadd(keys.ALL_CAMPAIGNS, self.id)

    def create_many(self, recipients: list[tuple[str, str, str, dict[str, str]]]) -> list[bool]:
        """Record recipients (key, state, variant, fields) in one round trip, queueing the
        pending ones; False for each that was already there (a duplicate)."""
        pipe = self.redis.pipeline(transaction=False)
        for key, state, variant, fields in recipients:
            flat = [
                item
                for pair in {**fields, "state": state, "variant": variant}.items()
                for item in pair
            ]
            self._create(
                keys=[self.recipient_key(key), self.jobs, self.counts],
                args=[key, state, variant, *flat],
                client=pipe,
            )
        return [bool(created) for created in pipe.execute()]

    def move(self, key: str, allowed: Iterable[str], to: str, **fields: str) -> bool:
        """Move a recipient to ``to`` if it is in one of ``allowed``; False otherwise."""
        flat = [str(item) for pair in fields.items() for item in pair]
        result = self._move(
            keys=[self.recipient_key(key), self.counts], args=[",".join(allowed), to, *flat]
        )
        return result == "ok"

    def record(self, key: str) -> dict[str, str]:
        return self.redis.hgetall(self.recipient_key(key))

    def count(self, name: str, by: int = 1) -> None:
        self.redis.hincrby(self.counts, name, by)

    def defer(self, key: str, until: datetime, reason: str) -> bool:
        if not self.move(key, ["pending"], "deferred", until=until.isoformat(), reason=reason):
            return False
        self.redis.zadd(self.deferred, {key: until.timestamp()})
        self.count(f"defer:{reason}")
        return True

    def release_due(self, now: datetime, limit: int = 500) -> int:
        """Queue again the deferred recipients whose time has come."""
        due = self.redis.zrangebyscore(self.deferred, "-inf", now.timestamp(), start=0, num=limit)
        for key in due:
            if self.move(key, ["deferred"], "pending"):
                self.redis.xadd(self.jobs, {"r": key})
            self.redis.zrem(self.deferred, key)
        return len(due)

    def next_deferred(self) -> float | None:
        first = self.redis.zrange(self.deferred, 0, 0, withscores=True)
        return first[0][1] if first else None

    def totals(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.redis.hgetall(self.counts).items()}

    def open_work(self) -> int:
        """Recipients not yet settled: queued, deferred or mid-send."""
        totals = self.totals()
        return sum(totals.get(f"state:{s}", 0) for s in ("pending", "deferred", "sending"))

    def note_row_error(self, row: int, message: str) -> None:
        self.count("skip:bad_row")
        if self.redis.llen(self.row_errors) < 1000:
            self.redis.rpush(self.row_errors, json.dumps({"row": row, "error": message}))
