"""Rendered images by key: L1 in this process, L2 in Redis, and one render per missing key.

L1 is a cachetools LRU bounded by the bytes it holds, not by a count of images. L2 (when
Redis is configured) is shared by every process and machine, with a TTL. Concurrent requests
for a key that is in neither share one render: within a process they wait on the same future;
across processes a short Redis lock lets one render while the others watch L2 for the result.

The cache also remembers which image URLs it has already verified and planned (``recall``),
so that a repeat fetch of an immutable URL skips HMAC, parsing and planning, which would give
the same answer. Everything that names an image in Redis goes through this class.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import TypeVar

from cachetools import LRUCache
from redis.exceptions import LockError

from renderer.service import keys, metrics
from renderer.service.backend import RedisBackend
from renderer.service.limits import KNOWN_URL_BYTES

log = logging.getLogger(__name__)
POLL_SECONDS = 0.02
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    data: bytes
    media_type: str
    quality: int | None
    colors: int | None
    encodes: int
    width: int
    height: int
    render_ms: float
    frames: int = 1
    notes: str = ""  # what an animation gave up to fit its budget; characters no font has
    fit: str = ""  # text drawn smaller or cut: "id=fitted 72px, id=cut 48px" (X-Render-Fit)
    boxes: str = ""  # where the text set at these values is: JSON [[id, x, y, w, h], ...]

    def pack(self) -> bytes:
        header = {k: v for k, v in asdict(self).items() if k != "data"}
        return json.dumps(header).encode() + b"\n" + self.data

    @classmethod
    def unpack(cls, packed: bytes) -> "Entry":
        """An entry written by this or another release: fields this one does not know are
        dropped, missing ones take their defaults, so a rolling deploy shares one L2."""
        header, _, data = packed.partition(b"\n")
        known = {f.name for f in fields(cls)} - {"data"}
        return cls(data=data, **{k: v for k, v in json.loads(header).items() if k in known})


class ImageCache:
    def __init__(
        self,
        max_bytes: int,
        backend: RedisBackend | None = None,
        ttl: int = 7 * 24 * 3600,
        lock_seconds: float = 15.0,
    ):
        self.l1: LRUCache[str, Entry] = LRUCache(maxsize=max_bytes, getsizeof=_size)
        self.backend = backend
        self.ttl = ttl
        self.lock_seconds = lock_seconds
        self._flights = Flights()
        # URL -> (cache key, Cache-Control, the URL's length) of immutable images already
        # verified and planned; bounded by the bytes an entry takes (measured: its URL + 400)
        self._urls: LRUCache[bytes, tuple[str, str, int]] = LRUCache(
            maxsize=KNOWN_URL_BYTES, getsizeof=lambda value: value[2] + 400
        )

    async def fetch(self, key: str, render: Callable[[], Awaitable[Entry]]) -> tuple[Entry, str]:
        """The entry for ``key`` and where it came from: l1, l2, shared (a render already in
        flight) or render."""
        entry = self.l1.get(key)
        if entry is not None:
            metrics.L1_HITS.add()
            return entry, "l1"
        metrics.CACHE.labels("l1", "miss").inc()
        (entry, source), shared = await self._flights.run(
            key, lambda: self._from_l2_or_render(key, render)
        )
        return entry, "shared" if shared else source

    def recall(self, url: bytes) -> tuple[str, str, Entry] | None:
        """(key, Cache-Control, entry) of a remembered immutable URL whose image is in L1."""
        known = self._urls.get(url)
        if known is None:
            return None
        entry = self.l1.get(known[0])
        if entry is None:
            return None
        metrics.L1_HITS.add()
        return known[0], known[1], entry

    def remember(self, url: bytes, key: str, cache_control: str) -> None:
        """Remember a verified URL of an image that cannot change (no live value, no
        expiry), spelled canonically, so a repeat fetch is answered by ``recall``."""
        with contextlib.suppress(ValueError):
            self._urls[url] = (key, cache_control, len(url))

    def forget_urls(self) -> None:
        """After a template changes: a remembered URL may now name another image."""
        self._urls.clear()

    def drop_local(self, key: str) -> None:
        """Drop an image from this process's L1 (another process purged it)."""
        self.l1.pop(key, None)

    def clear_local(self) -> None:
        """Empty this process's L1 and URL memo (purges may have been missed)."""
        self.l1.clear()
        self._urls.clear()

    async def purge(self, key: str) -> None:
        """Drop an image from L1 and L2 (a person asked to be forgotten)."""
        self.l1.pop(key, None)
        if self.backend is not None:
            await self.backend.call(lambda r: r.delete(keys.image(key)), fallback=None)

    async def _from_l2_or_render(
        self, key: str, render: Callable[[], Awaitable[Entry]]
    ) -> tuple[Entry, str]:
        if self.backend is None:
            return await self._render(key, render), "render"
        entry = await self._l2_get(key)
        if entry is not None:
            return self._keep(key, entry), "l2"
        lock = self.backend.client.lock(
            keys.render_lock(key), timeout=self.lock_seconds, blocking=False, thread_local=False
        )
        deadline = time.monotonic() + self.lock_seconds
        while not await self.backend.call(lambda _: lock.acquire(), fallback=True):
            # another process renders this key: wait for its result in L2
            await asyncio.sleep(POLL_SECONDS)
            entry = await self._l2_get(key, count=False)
            if entry is not None:
                return self._keep(key, entry), "l2"
            if time.monotonic() > deadline:
                break
        try:
            entry = await self._l2_get(key, count=False)  # stored while we took the lock?
            if entry is not None:
                return self._keep(key, entry), "l2"
            return await self._render(key, render), "render"
        finally:
            await self.backend.call(lambda _: _release(lock), fallback=None)

    async def _render(self, key: str, render: Callable[[], Awaitable[Entry]]) -> Entry:
        entry = self._keep(key, await render())
        if self.backend is not None:
            packed = entry.pack()
            await self.backend.call(
                lambda r: r.set(keys.image(key), packed, ex=self.ttl), fallback=None
            )
        return entry

    async def _l2_get(self, key: str, count: bool = True) -> Entry | None:
        if self.backend is None:
            return None
        packed = await self.backend.call(lambda r: r.get(keys.image(key)), fallback=None)
        if count:
            metrics.CACHE.labels("l2", "hit" if packed else "miss").inc()
        return Entry.unpack(packed) if packed else None

    def _keep(self, key: str, entry: Entry) -> Entry:
        with contextlib.suppress(ValueError):  # larger than the whole L1: not kept
            self.l1[key] = entry
        return entry


async def _release(lock) -> None:
    with contextlib.suppress(LockError):  # it expired, and may be someone else's now
        await lock.release()


def _size(entry: Entry) -> int:
    return len(entry.data) + 512


class Flights:
    """Concurrent asks for the same key share one computation (an image, a lint report)."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future] = {}

    async def run(self, key: str, make: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``await make()``, or the result of the one already running for ``key``; and
        whether it was shared."""
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running), True
        running = self._running[key] = asyncio.get_running_loop().create_future()
        running.add_done_callback(_retrieve)
        try:
            result = await make()
            running.set_result(result)
            return result, False
        except BaseException as exc:
            running.set_exception(exc)
            raise
        finally:
            del self._running[key]


def _retrieve(future: asyncio.Future) -> None:
    """Mark a failed flight's exception as seen even when nobody else waited for it."""
    if not future.cancelled():
        future.exception()
