"""The orchestrator's own secrets: the key of the phone-number hash, and the key that signs
tracked links. They live in Redis (created once, shared by every process) rather than being
derived from the URL signing keys, which rotate: a rotated hash key would silently let
everyone on the suppression list be texted again. RENDERER_PRIVACY_KEY overrides the first.
"""

import secrets

import redis

from renderer.orchestrator import keys


def privacy_key(client: redis.Redis, configured: str = "") -> bytes:
    """The phone-hash key: ``configured`` (RENDERER_PRIVACY_KEY) if set, else the stored one."""
    return configured.encode() if configured else _stored(client, "privacy")


def link_key(client: redis.Redis) -> bytes:
    return _stored(client, "link")


def _stored(client: redis.Redis, name: str) -> bytes:
    client.hsetnx(keys.SECRETS, name, secrets.token_hex(32))
    return client.hget(keys.SECRETS, name).encode()
