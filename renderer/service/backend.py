"""The process's Redis connection, shared by the image cache and the live values.

Redis is an accelerator, never a single point of failure: when it is unreachable every call
returns its fallback, the outage is logged once and shown in metrics, and calls are retried
every few seconds so the service picks Redis up again when it is back.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from renderer.service import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_SECONDS = 2.0


class RedisBackend:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=10
        )
        self.where = _without_password(url)
        self.available = True
        self._retry_at = 0.0
        metrics.REDIS_UP.set(1)

    async def call(self, operation: Callable[[redis.Redis], Awaitable[T]], fallback: T) -> T:
        """``operation(client)``, or ``fallback`` while Redis is unreachable."""
        if not self.available and time.monotonic() < self._retry_at:
            return fallback
        try:
            result = await operation(self.client)
        except (TimeoutError, RedisError, OSError) as exc:
            if self.available:
                log.warning(
                    "Redis at %s is unreachable (%s); serving from memory and by rendering",
                    self.where,
                    type(exc).__name__,
                )
                metrics.REDIS_UP.set(0)
            metrics.ERRORS.labels("redis_unavailable").inc()
            self.available = False
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return fallback
        if not self.available:
            log.warning("Redis at %s is reachable again", self.where)
            metrics.REDIS_UP.set(1)
            self.available = True
        return result

    async def close(self) -> None:
        await self.client.aclose()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
