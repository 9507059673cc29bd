"""What people and the provider tell us: replies (opt-out, opt-in, help), clicks, and
requests to be forgotten. (Delivery receipts: ``receipts.py``.)

Called by the campaigns' HTTP routes (``router.py``) once the provider has verified the
webhook's signature and read it into an ``Inbound``.
"""

import json
import time

import redis

from renderer.orchestrator import compliance, keyring, keys, links
from renderer.orchestrator.keywords import Keyword, classify
from renderer.orchestrator.ledger import Ledger

SEEN_SECONDS = 90 * 24 * 3600  # an inbound message id is remembered this long
SETTLE_SECONDS = 10.0  # a STOP waits at most this long for sends already in flight


def inbound(
    client: redis.Redis, privacy_key: bytes, phone: str, body: str, message_id: str = ""
) -> Keyword | None:
    """Handle a reply: an opt-out suppresses, an opt-in re-subscribes, help asks for help.

    A message id seen before (the provider retrying, or a replayed request) changes nothing
    and gets the same answer: a replayed START can never undo a later STOP. A STOP returns
    only once no send to the number is in flight (``settle``)."""
    seen = keys.inbound_seen(message_id) if message_id else None
    if seen and (earlier := client.get(seen)) is not None:
        return Keyword(*earlier.split("|")) if earlier else None
    word = classify(body)
    key = compliance.phone_key(privacy_key, phone)
    if word and word.kind == "stop":
        client.sadd(keys.SUPPRESSED, key)
        settle(client, key)
    elif word and word.kind == "start":
        client.srem(keys.SUPPRESSED, key)
    if seen:
        client.set(seen, f"{word.kind}|{word.language}" if word else "", ex=SEEN_SECONDS)
    return word


def settle(client: redis.Redis, key: str, timeout: float = SETTLE_SECONDS) -> bool:
    """Wait until no campaign has a send to ``key`` in flight (claimed, provider call not yet
    answered): after this, no provider call for the number can start (see ``gate.py``).
    False if one was still in flight after ``timeout`` (a worker that died mid-call)."""
    deadline = time.monotonic() + timeout
    # every campaign, not only the active ones: one pipelined read each, and no window in
    # which a campaign being re-activated (campaign retry) could be missed
    campaigns = client.smembers(keys.ALL_CAMPAIGNS) | client.smembers(keys.ACTIVE_CAMPAIGNS)
    while True:
        pipe = client.pipeline(transaction=False)
        for campaign in campaigns:
            pipe.hget(Ledger(client, campaign).recipient_key(key), "state")
        if "sending" not in pipe.execute():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


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
        if ledger.move(key, ["pending", "deferred"], "skipped", reason="forgotten"):
            client.zrem(ledger.deferred, key)  # never sent: there is no number left to send to
            ledger.count("skip:forgotten")
        client.hdel(record_key, "phone", "values", "body", "image_url", "timezone")
        client.hset(record_key, "forgotten", "1")
    return images
