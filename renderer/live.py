"""Live values: stock counts fed by inventory systems, read by templates at render time.

Backed by Redis when configured (every process sees the same counts), else by this process's
memory. While Redis is unreachable, reads fall back to the last count this process saw.
"""

import dataclasses
from typing import Any

from renderer import fields
from renderer.backend import RedisBackend
from renderer.errors import RendererError
from renderer.render import Job

MAX_COUNT = 1_000_000_000
_UNREACHABLE = object()


class LiveStoreUnavailable(RendererError):
    code = "live_store_unavailable"


class StockStore:
    def __init__(self, backend: RedisBackend | None = None):
        self.backend = backend
        self.memory: dict[str, int] = {}

    async def get(self, sku: str) -> int | None:
        if self.backend is not None:
            value = await self.backend.call(lambda r: r.get(_key(sku)), fallback=_UNREACHABLE)
            if value is not _UNREACHABLE:
                if value is None:
                    self.memory.pop(sku, None)
                    return None
                self.memory[sku] = int(value)
        return self.memory.get(sku)

    async def set(self, sku: str, count: int) -> None:
        if self.backend is not None:
            done = await self.backend.call(lambda r: r.set(_key(sku), count), fallback=False)
            if not done:
                raise LiveStoreUnavailable("the live store (Redis) is unreachable; try again")
        self.memory[sku] = count


def check_sku(sku: str) -> str:
    if not fields.SKU.match(sku):
        raise ValueError(f"{sku!r} is not a SKU (letters, digits, '.', '_', '-', up to 64)")
    return sku


def check_count(body: Any) -> int:
    """The count of a ``{"count": 47}`` body; ValueError saying what is wrong."""
    if not isinstance(body, dict) or set(body) != {"count"}:
        raise ValueError('the body must be {"count": N}')
    count = body["count"]
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValueError(f"count must be a whole number; got {count!r}")
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 0 and {MAX_COUNT:,}; got {count:,}")
    return count


async def resolve(job: Job, store: StockStore) -> Job:
    """``job`` with its live fields that were not given filled in from the store (None when
    the sku is unknown: the template shows its fallback)."""
    missing = [name for name in job.template.live_fields if job.values.get(name) is None]
    if not missing:
        return job
    count = await store.get(job.values["sku"])
    return dataclasses.replace(job, values={**job.values, **dict.fromkeys(missing, count)})


def _key(sku: str) -> str:
    return f"mms:stock:{sku}"
