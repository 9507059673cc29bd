"""The image cache on its own: L1 bounded by bytes, L2 with a TTL in a real Redis."""

import asyncio
import json

import redis

from renderer.service.backend import RedisBackend
from renderer.service.cache import Entry, ImageCache


def entry(size: int, marker: int = 0) -> Entry:
    return Entry(bytes([marker]) * size, "image/jpeg", 90, None, 1, 10, 10, 1.0)


def test_l1_is_bounded_by_bytes_not_count():
    async def scenario():
        cache = ImageCache(max_bytes=1_000_000)
        renders = []

        async def render(i):
            renders.append(i)
            return entry(300_000, i)

        for i in range(5):
            await cache.fetch(f"k{i}", lambda i=i: render(i))
        assert cache.l1.currsize <= 1_000_000
        assert len(cache.l1) == 3  # 3 x 300 KB (+ overhead) fit in 1 MB, not 4
        assert "k0" not in cache.l1 and "k4" in cache.l1
        _, source = await cache.fetch("k4", lambda: render(99))
        assert source == "l1" and 99 not in renders
        _, source = await cache.fetch("k0", lambda: render(0))
        assert source == "render"

    asyncio.run(scenario())


def test_an_image_larger_than_l1_is_served_not_kept():
    async def scenario():
        cache = ImageCache(max_bytes=1_000)

        async def render():
            return entry(5_000)

        got, source = await cache.fetch("big", render)
        assert source == "render" and len(got.data) == 5_000 and "big" not in cache.l1

    asyncio.run(scenario())


def test_l2_has_a_ttl_and_round_trips(redis_server):
    async def scenario():
        backend = RedisBackend(redis_server.url)
        cache = ImageCache(max_bytes=10_000_000, backend=backend, ttl=3600)

        async def render():
            return entry(1234, 7)

        await cache.fetch("key1", render)
        fresh = ImageCache(max_bytes=10_000_000, backend=backend, ttl=3600)
        got, source = await fresh.fetch("key1", render)
        assert source == "l2" and got == entry(1234, 7)
        await backend.close()

    asyncio.run(scenario())
    ttl = redis.Redis.from_url(redis_server.url).ttl("mms:img:key1")
    assert 3500 < ttl <= 3600


def test_failed_render_reaches_every_waiter_and_is_not_cached():
    async def scenario():
        cache = ImageCache(max_bytes=1_000_000)
        calls = 0

        async def render():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            raise ValueError("boom")

        results = await asyncio.gather(
            *(cache.fetch("bad", render) for _ in range(5)), return_exceptions=True
        )
        assert calls == 1
        assert all(isinstance(r, ValueError) for r in results)
        assert "bad" not in cache.l1

    asyncio.run(scenario())


def test_an_entry_from_another_release_unpacks():
    """A rolling deploy shares one L2: a header field this release does not know is dropped,
    one it knows but the writer did not is defaulted."""
    packed = entry(16, marker=7).pack()
    header, _, data = packed.partition(b"\n")
    newer = json.loads(header) | {"from_the_future": [1, 2]}
    older = {k: v for k, v in json.loads(header).items() if k not in ("boxes", "fit")}
    for variant in (newer, older):
        unpacked = Entry.unpack(json.dumps(variant).encode() + b"\n" + data)
        assert unpacked.data == bytes([7]) * 16 and unpacked.boxes == "" and unpacked.fit == ""
