"""A Redis client for a URL, a single server or a Redis Cluster.

``RENDERER_REDIS_URL=redis+cluster://host:port`` (or ``rediss+cluster://`` with TLS) names any
node of a cluster: the client (``redis.cluster.RedisCluster``) asks it for the others and
sends each command to the node that holds its key. Nothing else changes: every key a Lua
script or a transaction touches together shares a hash tag (``{campaign-id}``, ``{sid}``,
``{tpl}``), so it sits on one node.
"""

from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def connect(url: str, **options: Any) -> redis.Redis:
    """A client for ``url`` (a cluster's when its scheme says so); ``options`` are the
    connections' (timeouts, decode_responses)."""
    if is_cluster(url):
        return redis.cluster.RedisCluster.from_url(_plain(url), **options)
    return redis.Redis.from_url(url, **options)


def connect_async(url: str, **options: Any) -> redis.asyncio.Redis:
    """``connect``, for asyncio."""
    if is_cluster(url):
        return redis.asyncio.cluster.RedisCluster.from_url(_plain(url), **options)
    return redis.asyncio.Redis.from_url(url, **options)


def _plain(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{SCHEMES[scheme]}://{rest}"


class Script:
    """A Lua script: run by its hash on the client (loaded once per server), by its text in
    a pipeline. A cluster's pipeline cannot load a script a node lacks (a new node, a
    replica promoted after a failover), and a pipeline of EVALs needs no SCRIPT EXISTS
    round trip before it."""

    def __init__(self, client: redis.Redis, lua: str):
        self.lua, self.registered = lua, client.register_script(lua)

    def __call__(self, keys: list[str], args: list, client: Any = None) -> Any:
        if client is None:
            return self.registered(keys=keys, args=args)
        return client.execute_command("EVAL", self.lua, len(keys), *keys, *args)
