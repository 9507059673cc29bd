"""What the provider tells us: delivery receipts, replies (STOP, START, HELP), and clicks.

Called by the HTTP service (``renderer/app.py``) once the X-Twilio-Signature is checked.
"""

import json

import redis

from renderer.orchestrator import compliance, keys, links
from renderer.orchestrator.ledger import Ledger

# Receipts can arrive out of order: a state only moves forward, so a late "sent" never
# overwrites "delivered".
FORWARD = {
    "sent": (["accepted"], "sent"),
    "delivered": (["accepted", "sent"], "delivered"),
    "read": (["accepted", "sent"], "delivered"),
    "undelivered": (["accepted", "sent"], "failed"),
    "failed": (["accepted", "sent"], "failed"),
}


def record_status(client: redis.Redis, sid: str, status: str, error_code: str | None) -> bool:
    """Apply one status callback; False when the message is not ours or the news is old."""
    owner = client.get(f"mms:sid:{sid}")
    if owner is None or status not in FORWARD:
        return False
    campaign, key = owner.split("|", 1)
    ledger = Ledger(client, campaign)
    allowed, target = FORWARD[status]
    fields = {"error": error_code} if error_code and target == "failed" else {}
    moved = ledger.move(key, allowed, target, **fields)
    if moved and target == "failed":
        ledger.count(f"error:{error_code or 'unknown'}")
    return moved


def inbound(client: redis.Redis, phone: str, body: str) -> str | None:
    """Handle a reply: STOP suppresses, START re-subscribes, HELP asks for help."""
    word = compliance.keyword(body)
    if word is None:
        return None
    key = compliance.phone_key(keys.privacy_key(client), phone)
    if word == "stop":
        client.sadd(compliance.SUPPRESSED, key)
    elif word == "start":
        client.srem(compliance.SUPPRESSED, key)
    return word


def click(client: redis.Redis, code: str) -> str | None:
    """The target of a tracked link (counting the click), or None if it is not one."""
    target = links.image_target(client, code)
    if target:
        return target
    found = links.read_code(keys.link_key(client), code)
    if found is None:
        return None
    campaign, variant, index = found
    ledger = Ledger(client, campaign)
    raw = client.get(ledger.definition)
    if raw is None:
        return None
    definition = json.loads(raw)
    if not 0 <= index < len(definition["links"]):
        return None
    client.hincrby(ledger.clicks, variant, 1)
    return links.with_utm(definition["links"][index], definition["utm"])


def forget(client: redis.Redis, phone: str) -> list[str]:
    """Erase a person's data from every campaign, keeping their opt-out: returns the image
    URLs that showed them (for the caller to purge from the image cache)."""
    key = compliance.phone_key(keys.privacy_key(client), phone)
    images = []
    for campaign in client.smembers("mms:campaigns:all") | client.smembers("mms:campaigns"):
        ledger = Ledger(client, campaign)
        record_key = ledger.recipient_key(key)
        record = client.hgetall(record_key)
        if not record:
            continue
        if record.get("image_url"):
            images.append(record["image_url"])
        client.hdel(record_key, "phone", "values", "body", "image_url", "timezone")
        client.hset(record_key, "forgotten", "1")
    return images
