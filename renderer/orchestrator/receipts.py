"""Delivery receipts: never lost, applied in lifecycle order, harmless when repeated.

A provider can post a receipt before its create call has even answered, so before the worker
has recorded which recipient the message id belongs to. Such a receipt is *held* (a list
under the message id, kept ``HOLD_SECONDS``) and applied the moment the worker records the
id (``own``). The two steps are each one Lua script over the same hash slot (``{sid}``), so a
receipt is either held before the id is recorded (and ``own`` takes it) or sees the id (and
is applied at once): never neither.

A receipt only moves a record forward (accepted -> sent -> delivered | failed), so receipts
arriving out of order or twice end in the same state. Held receipts are applied in lifecycle
order. A failure whose code means the account is wrong (``Provider.classify``: an unregistered
sender, a suspended account) pauses the campaign; one that means the recipient opted out at
the provider suppresses the number.
"""

import json
import time
from collections.abc import Callable

import redis

from renderer.orchestrator import keys
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.providers.base import ErrorClass, StatusUpdate

HOLD_SECONDS = 24 * 3600
TEST_SECONDS = 7 * 24 * 3600  # a studio test message's record is kept this long
OWNER_SECONDS = 30 * 24 * 3600
ORDER = {"sent": 1, "delivered": 2, "failed": 2}
# Receipts move a state forward only: a late "sent" never overwrites "delivered".
FORWARD = {
    "sent": ["accepted"],
    "delivered": ["accepted", "sent"],
    "failed": ["accepted", "sent"],
}

# KEYS: owner, held. ARGV: the receipt (JSON), seconds to hold it. -> the owner, or false
# when the receipt was held.
_HOLD = """
local owner = redis.call('GET', KEYS[1])
if owner then return owner end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return false
"""
# KEYS: owner, held. ARGV: the owner (campaign|recipient), seconds to keep it. -> the receipts
# held until now.
_OWN = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return held
"""

Classify = Callable[[str], ErrorClass]


def record_status(client: redis.Redis, update: StatusUpdate, classify: Classify) -> bool:
    """Apply one delivery receipt, or hold it until its message id is recorded. True when it
    moved a record."""
    if update.state is None or not update.sid:
        return False
    held = json.dumps({"state": update.state, "error": update.error_code})
    owner = client.register_script(_HOLD)(
        keys=[keys.message_owner(update.sid), keys.held_receipts(update.sid)],
        args=[held, HOLD_SECONDS],
    )
    if owner is None:
        return False
    return _apply(client, owner, update, classify)


def own(client: redis.Redis, sid: str, campaign: str, key: str) -> list[str]:
    """Record that ``sid`` is ``key``'s message in ``campaign``; the receipts held until now
    (to give to ``apply_held``). ``client`` may be a pipeline."""
    return client.execute_command(
        "EVAL",
        _OWN,
        2,
        keys.message_owner(sid),
        keys.held_receipts(sid),
        f"{campaign}|{key}",
        OWNER_SECONDS,
    )  # fmt: skip: EVAL, not a Script: a cluster's pipeline cannot load one


def apply_held(
    client: redis.Redis, sid: str, campaign: str, key: str, held: list[str], classify: Classify
) -> None:
    """Apply the receipts ``own`` found held for ``sid``, in lifecycle order."""
    updates = [json.loads(item) for item in held]
    for item in sorted(updates, key=lambda u: ORDER[u["state"]]):
        status = StatusUpdate(sid, item["state"], item["error"])
        _apply(client, f"{campaign}|{key}", status, classify)


def _apply(client: redis.Redis, owner: str, update: StatusUpdate, classify: Classify) -> bool:
    campaign, key = owner.split("|", 1)
    if campaign == keys.TEST_SENDS:
        return _apply_to_test(client, key, update, classify)
    ledger = Ledger(client, campaign)
    failed = update.state == "failed"
    fields = {"error": update.error_code} if update.error_code and failed else {}
    moved = ledger.receipt(key, update.sid, FORWARD[update.state], update.state, **fields)
    if moved and failed:
        code = update.error_code or "unknown"
        ledger.count(f"error:{code}")
        kind = classify(code) if update.error_code else "recipient"
        if kind == "account":
            ledger.pause_for_account(code, "reported in a delivery receipt")
        elif kind == "opted_out":
            client.sadd(keys.SUPPRESSED, key)
    return moved


def _apply_to_test(client: redis.Redis, key: str, update: StatusUpdate, classify: Classify) -> bool:
    """A studio test message's receipt: every one is kept, in order of arrival, for the page;
    its state moves forward only. An opt-out at the provider suppresses the number."""
    receipt = {"state": update.state, "error": update.error_code, "at": time.time()}
    client.rpush(keys.test_send_receipts(update.sid), json.dumps(receipt))
    client.expire(keys.test_send_receipts(update.sid), TEST_SECONDS)
    record = keys.test_send(update.sid)
    if client.hget(record, "state") not in FORWARD[update.state]:
        return False
    client.hset(record, mapping={"state": update.state, "error": update.error_code or ""})
    if update.error_code and classify(update.error_code) == "opted_out":
        client.sadd(keys.SUPPRESSED, key)
    return True
