"""The durable record of every recipient's send, in Redis, and the job stream that works it.

Each recipient of a campaign has a hash whose ``state`` moves, atomically (Lua) and with its
counters, through::

    pending -> sending -> accepted -> sent -> delivered | failed
    pending -> deferred -> pending           (quiet hours, frequency cap)
    pending | sending -> skipped             (no opt-in, suppressed, bad row, cancelled)
    sending -> pending                       (provider busy or unreachable; account error)
    sending -> failed                        (the provider refused this recipient)
    sending -> ambiguous                     (crashed mid-call, and the provider cannot say)
    failed -> pending                        (campaign retry --failed)

A transition names the states it may start from, so two workers can never both move a
recipient to ``sending``: that is what makes a send happen once. The move to ``sending`` (the
claim before a provider call) also checks, in the same step, that the campaign is neither
paused nor cancelled. Keys of one campaign share the hash tag ``{campaign-id}``, so the same
code runs on Redis Cluster.
"""

import json
import time
from collections.abc import Iterable
from datetime import datetime

import redis

from renderer import redis_client
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

# KEYS: record, counts, control, failed set. ARGV: from (comma-separated), to, the recipient's
# key, "1" to move only while the campaign runs (the claim before a provider call), the sid
# the record must carry ("" for any), then field, value, ...
_MOVE = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return '' end
if not string.find(',' .. ARGV[1] .. ',', ',' .. current .. ',', 1, true) then
  return current
end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'sid') ~= ARGV[5] then return 'other-sid' end
if ARGV[4] == '1' then
  local run = redis.call('HGET', KEYS[3], 'state')
  if run == 'paused' or run == 'cancelled' then return run end
end
local variant = redis.call('HGET', KEYS[1], 'variant')
redis.call('HSET', KEYS[1], 'state', ARGV[2], unpack(ARGV, 6))
for _, prefix in ipairs({'state:', 'v:' .. variant .. ':state:'}) do
  redis.call('HINCRBY', KEYS[2], prefix .. current, -1)
  redis.call('HINCRBY', KEYS[2], prefix .. ARGV[2], 1)
end
if ARGV[2] == 'failed' then
  redis.call('SADD', KEYS[4], ARGV[3])
elseif current == 'failed' then
  redis.call('SREM', KEYS[4], ARGV[3])
end
return 'ok'
"""


class Ledger:
    """One campaign's records, job stream, deferrals, counters and run state."""

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
        self.failed = names.failed
        self.control_key = names.control
        self.recipient_key = names.recipient
        self._create = redis_client.Script(client, _CREATE)
        self._move = redis_client.Script(client, _MOVE)

    def start(self, definition: dict) -> None:
        self.redis.set(self.definition, json.dumps(definition))
        try:
            self.redis.xgroup_create(self.jobs, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:  # BUSYGROUP: a second send of the same campaign
            if "BUSYGROUP" not in str(exc):
                raise
        self.redis.hsetnx(self.control_key, "state", "running")
        self.redis.sadd(keys.ACTIVE_CAMPAIGNS, self.id)
        self.redis.sadd(keys.ALL_CAMPAIGNS, self.id)

    def exists(self) -> bool:
        return bool(self.redis.exists(self.definition))

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
        return self._run_move(key, allowed, to, fields) == "ok"

    def claim(self, key: str, **fields: str) -> str:
        """The move to ``sending`` before a provider call: ``ok``, or why not (``paused``,
        ``cancelled``, or the state another worker already moved it to)."""
        return self._run_move(key, ["pending"], "sending", fields, gated=True)

    def receipt(self, key: str, sid: str, allowed: Iterable[str], to: str, **fields) -> bool:
        """A delivery receipt's move: only while the record still carries ``sid`` (a receipt
        for an earlier attempt, before ``campaign retry``, changes nothing)."""
        return self._run_move(key, allowed, to, fields, sid=sid) == "ok"

    def move_in(self, pipe, key: str, allowed: Iterable[str], to: str, **fields: str) -> None:
        """``move``, queued in ``pipe`` (its answer is among the pipeline's)."""
        self._run_move(key, allowed, to, fields, client=pipe)

    def _run_move(self, key, allowed, to, fields, gated=False, sid="", client=None) -> str:
        flat = [str(item) for pair in fields.items() for item in pair]
        return self._move(
            keys=[self.recipient_key(key), self.counts, self.control_key, self.failed],
            args=[",".join(allowed), to, key, "1" if gated else "0", sid, *flat],
            client=client,
        )

    def record(self, key: str) -> dict[str, str]:
        return self.redis.hgetall(self.recipient_key(key))

    def records(self, recipients: list[str]) -> list[dict[str, str]]:
        """Several recipients' records in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key in recipients:
            pipe.hgetall(self.recipient_key(key))
        return pipe.execute() if recipients else []

    def ack(self, entries: list[str]) -> None:
        """The jobs are done with (their records say how): off the worker's pending list.
        Done in bulk: a job acknowledged late is only looked at again, never sent twice."""
        if entries:
            self.redis.xack(self.jobs, GROUP, *entries)

    def count(self, name: str, by: int = 1) -> None:
        self.redis.hincrby(self.counts, name, by)

    def defer(self, key: str, until: datetime, reason: str, allowed=("pending",)) -> bool:
        if not self.move(key, allowed, "deferred", until=until.isoformat(), reason=reason):
            return False
        self.redis.zadd(self.deferred, {key: until.timestamp()})
        self.count(f"defer:{reason}")
        return True

    def requeue(self, key: str) -> None:
        """A job for ``key`` at the back of the stream (after a retryable failure, or a job
        read while the campaign was paused)."""
        self.redis.xadd(self.jobs, {"r": key})

    def release_due(self, now: datetime | None, limit: int = 500) -> int:
        """Queue again the deferred recipients whose time has come (every one if ``now`` is
        None)."""
        until = "+inf" if now is None else now.timestamp()
        due = self.redis.zrangebyscore(self.deferred, "-inf", until, start=0, num=limit)
        for key in due:
            if self.move(key, ["deferred"], "pending"):
                self.requeue(key)
            self.redis.zrem(self.deferred, key)
        return len(due)

    def retry_failed(self, code: str | None = None) -> int:
        """Queue the failed recipients again (only those that failed with ``code``)."""
        retried = 0
        for key in self.redis.sscan_iter(self.failed, count=500):
            if code is not None and self.redis.hget(self.recipient_key(key), "error") != code:
                continue
            if self.move(key, ["failed"], "pending", error="", reason="", sid=""):
                self.requeue(key)
                retried += 1
        if retried:
            self.count("retried", retried)
            self.redis.sadd(keys.ACTIVE_CAMPAIGNS, self.id)
        return retried

    def skip_the_rest(self, reason: str) -> int:
        """Skip every recipient still pending or deferred (a cancelled campaign); one in
        ``sending`` finishes its call."""
        skipped, last = 0, "-"
        while entries := self.redis.xrange(self.jobs, min=last, count=1000):
            for _, fields in entries:
                skipped += self.move(fields["r"], ["pending", "deferred"], "skipped", reason=reason)
            last = "(" + entries[-1][0]
        for key in list(self.redis.zscan_iter(self.deferred)):
            skipped += self.move(key[0], ["deferred"], "skipped", reason=reason)
            self.redis.zrem(self.deferred, key[0])
        if skipped:
            self.count(f"skip:{reason}", skipped)
        return skipped

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

    # The campaign's run state: running, paused (an account error, or by hand) or cancelled;
    # and the provider's backoff after a transient error, shared by every worker.

    def control(self) -> dict[str, str]:
        return self.redis.hgetall(self.control_key)

    def set_state(self, state: str, reason: str = "") -> None:
        self.redis.hset(
            self.control_key, mapping={"state": state, "reason": reason, "since": _now_iso()}
        )
        if state == "running":
            self.redis.sadd(keys.ACTIVE_CAMPAIGNS, self.id)

    def pause_for_account(self, code: str, message: str) -> None:
        """Pause: the provider says the account or its setup is wrong; a person must fix it."""
        self.set_state(
            "paused",
            f"the provider refused the account or its setup ({code}: {message}); fix it (the "
            f"RENDERER_TWILIO_* or RENDERER_TELNYX_* settings, the sender), then run: "
            f"mms-renderer campaign resume {self.id}",
        )

    def note_transient(self, error: str, hold_seconds: float) -> None:
        """A transient provider error: every worker holds off sending for this campaign until
        ``hold_seconds`` from now; status and progress show the error."""
        hold_until = time.time() + hold_seconds
        self.redis.hset(
            self.control_key,
            mapping={"error": error, "error_at": _now_iso(), "hold_until": hold_until},
        )
        self.redis.hincrby(self.control_key, "streak", 1)

    def note_success(self) -> None:
        if self.redis.hget(self.control_key, "streak") not in (None, "0"):
            self.redis.hset(self.control_key, mapping={"streak": 0, "error": "", "hold_until": 0})


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
