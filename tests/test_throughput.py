"""Throughput without giving up a guarantee: provider calls overlap (a bounded pool per
worker), rate-limit slots come from Redis in blocks, and every send still happens once."""

import time
from collections import Counter

import redis

from renderer.orchestrator import keys
from renderer.orchestrator.ledger import Ledger
from renderer.orchestrator.ratelimit import BLOCK, WINDOW, RateLimiter

from .campaign_env import Env, Sandbox, person
from .test_campaign_ops import campaign

LATENCY = 0.25  # seconds the provider takes to answer each create call


def test_calls_to_a_slow_provider_overlap_and_each_recipient_gets_one(campaign_env):
    env = campaign_env
    slow = Sandbox(env.tmp / "slow.log", latency=LATENCY)
    try:
        env = Env(env.redis_url, env.service, slow, env.tmp)
        rows = [person(i, "212", timezone="UTC", first_name="Ana") for i in range(60)]
        env.start(campaign("overlap", 1000), rows)
        env.worker(concurrency=8).run(only="overlap", until_idle=True)
        outbox = slow.outbox()
        assert Counter(m["to"] for m in outbox) == Counter(r["phone"] for r in rows)
        times = sorted(m["received_at"] for m in outbox)
        # one call at a time would space arrivals by the provider's latency at least
        in_flight = max(sum(1 for t in times if s <= t < s + LATENCY) for s in times)
        assert 1 < in_flight <= 8, in_flight
        totals = Ledger(env.client, "overlap").totals()
        assert totals["state:accepted"] + totals.get("state:delivered", 0) + totals.get(
            "state:sent", 0
        ) == len(rows)
    finally:
        slow.stop()


def test_rate_limit_slots_come_in_blocks_and_never_exceed_the_limit(redis_server):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    limiter = RateLimiter(client)
    before = _script_calls(client)
    for _ in range(100):
        limiter.acquire("+15005550006", 100, upcoming=1000)
    trips = _script_calls(client) - before
    assert trips <= 2 * 100 // min(BLOCK, 10), f"{trips} round trips for 100 slots (blocks of 10)"
    window = keys.sender_rate("+15005550006")
    assert client.zcard(window) == 100
    first = client.zrange(window, 0, 0, withscores=True)[0][1]
    limiter.acquire("+15005550006", 100)  # the 101st waits for the window to move on
    seconds, micros = client.time()
    assert seconds + micros / 1e6 - first >= WINDOW
    # a block's slots unused past their hold are dropped, never handed out late
    limiter.acquire("+15005550099", 1000, upcoming=20)
    time.sleep(0.15)
    before = _script_calls(client)
    limiter.acquire("+15005550099", 1000, upcoming=20)
    assert _script_calls(client) - before == 1


def _script_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))
