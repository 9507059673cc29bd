"""Messages per second per sender, shared by every worker on every machine (Redis).

A sliding-window log: a sender's recent send times sit in a sorted set, and a send may go
when fewer than ``mps`` fall in the last window. The window is 20% longer than a second, so
that up to 0.2 s of jitter between taking a slot and the provider receiving the request (a
busy machine, a slow network) cannot put more than ``mps`` sends into any one second at the
provider; the price is sending at 5/6 of ``mps`` at most. Time is Redis's, the same for all
workers.
"""

import time
import uuid

import redis

from renderer.orchestrator import keys

WINDOW = 1.2

_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - t)
"""


class RateLimiter:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._take = client.register_script(_TAKE)

    def acquire(self, sender: str, mps: float) -> None:
        """Block until ``sender`` may send one more message."""
        per_window = max(1, int(mps))  # never more than mps in any WINDOW
        window = WINDOW if mps >= 1 else WINDOW / mps
        while True:
            wait = float(
                self._take(
                    keys=[keys.sender_rate(sender)], args=[per_window, window, uuid.uuid4().hex]
                )
            )
            if wait <= 0:
                return
            time.sleep(min(wait, 1.0))
