"""The process's Redis connection, shared by the image cache and the live values.

Redis is an accelerator, never a single point of failure: when it is unreachable every call
returns its fallback, the outage is logged once and shown in metrics, and one call every few
seconds tries it again, so the service picks Redis up again when it is back: once, not in a
flurry of "unreachable" and "reachable again" as calls begun on old connections fail.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from renderer import redis_client
from renderer.service import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 2.0


class RedisBackend:
    def __init__(self, url: str):
        self.client = redis_client.connect_async(
            url, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=10
        )
        self.where = _without_password(url)
        self.available = True
        self._retry_at = 0.0
        self._up_at = 0.0  # when Redis was last found reachable again
        self._probing = False
        metrics.REDIS_UP.set(1)

    async def call(self, operation: Callable[[redis.Redis], Awaitable[T]], fallback: T) -> T:
        """``operation(client)``, or ``fallback`` while Redis is unreachable. While it is, one
        call every RETRY_SECONDS tries it again; the others do not wait for that one."""
        started = time.monotonic()
        probe = not self.available
        if probe and (started < self._retry_at or self._probing):
            return fallback
        self._probing = self._probing or probe
        try:
            result = await operation(self.client)
        except (TimeoutError, RedisError, OSError) as exc:
            await self._failed(exc, started)
            return fallback
        finally:
            if probe:
                self._probing = False
        if not self.available:
            log.warning("Redis at %s is reachable again", self.where)
            metrics.REDIS_UP.set(1)
            self.available, self._up_at = True, time.monotonic()
        return result

    async def _failed(self, exc: BaseException, started: float) -> None:
        metrics.ERRORS.labels("redis_unavailable").inc()
        if started < self._up_at:  # it began on a connection from before Redis came back
            return
        if self.available:
            log.warning(
                "Redis at %s is unreachable (%s); serving from memory and by rendering",
                self.where,
                type(exc).__name__,
            )
            metrics.REDIS_UP.set(0)
            self.available = False
            await _disconnect(self.client)  # none of its connections is to be trusted
        self._retry_at = time.monotonic() + RETRY_SECONDS

    async def close(self) -> None:
        await self.client.aclose()


async def _disconnect(client: redis.Redis) -> None:
    """Drop every connection; a cluster's client also forgets its nodes, and asks again."""
    if isinstance(client, redis.RedisCluster):
        await client.aclose()
    else:
        await client.connection_pool.disconnect()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
