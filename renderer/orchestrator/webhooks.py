"""What the provider tells us: delivery receipts, replies (STOP, START, HELP), and clicks.

Called by the campaigns' HTTP routes (``router.py``) once the provider has verified the
webhook's signature and read it into a ``StatusUpdate`` or an ``Inbound``.
"""

import json

import redis

from renderer.orchestrator import compliance, keyring, keys, links
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.providers.base import StatusUpdate

# Receipts can arrive out of order: a state only moves forward, so a late "sent" never
# overwrites "delivered".
FORWARD = {
    "sent": ["accepted"],
    "delivered": ["accepted", "sent"],
    "failed": ["accepted", "sent"],
}


def record_status(client: redis.Redis, update: StatusUpdate) -> bool:
    """Apply one delivery receipt; False when the message is not ours or the news is old."""
    owner = client.get(keys.message_owner(update.sid))
    if owner is None or update.state is None:
        return False
    campaign, key = owner.split("|", 1)
    ledger = Ledger(client, campaign)
    failed = update.state == "failed"
    fields = {"error": update.error_code} if update.error_code and failed else {}
    moved = ledger.move(key, FORWARD[update.state], update.state, **fields)
    if moved and failed:
        ledger.count(f"error:{update.error_code or 'unknown'}")
    return moved


def inbound(client: redis.Redis, privacy_key: bytes, phone: str, body: str) -> str | None:
    """Handle a reply: STOP suppresses, START re-subscribes, HELP asks for help."""
    word = compliance.keyword(body)
    if word is None:
        return None
    key = compliance.phone_key(privacy_key, phone)
    if word == "stop":
        client.sadd(keys.SUPPRESSED, key)
    elif word == "start":
        client.srem(keys.SUPPRESSED, key)
    return word


def click(client: redis.Redis, code: str) -> str | None:
    """The target of a tracked link (counting the click), or None if it is not one."""
    target = links.image_target(client, code)
    if target:
        return target
    found = links.read_code(keyring.link_key(client), code)
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


def forget(client: redis.Redis, privacy_key: bytes, phone: str) -> list[str]:
    """Erase a person's data from every campaign, keeping their opt-out: returns the image
    URLs that showed them (for the caller to purge from the image cache)."""
    key = compliance.phone_key(privacy_key, phone)
    images = []
    for campaign in client.smembers(keys.ALL_CAMPAIGNS) | client.smembers(keys.ACTIVE_CAMPAIGNS):
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
