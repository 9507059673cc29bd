"""Messages per second per sender, shared by every worker on every machine (Redis).

A sliding-window log: a sender's recent send times sit in a sorted set, and sends may go
while fewer than ``mps`` fall in the last window. The window is 20% longer than a second, so
that up to 0.2 s of jitter between taking a slot and the provider receiving the request (a
busy machine, a slow network) cannot put more than ``mps`` sends into any one second at the
provider; the price is sending at 5/6 of ``mps`` at most. Time is Redis's, the same for all
workers.

Slots are handed out in blocks (up to ``BLOCK`` at once, a tenth of a window's worth at
most), so a worker sending hundreds a second asks Redis a few dozen times a second, not once
per message. A block's unused slots expire ``HOLD`` seconds after they were taken: a slot is
always used within 0.1 s, leaving the other 0.1 s of the window's margin for the network.
An expired slot is simply lost (it still counts in the window: never more than ``mps``).
"""

import threading
import time
import uuid
from collections import deque

import redis

from renderer.orchestrator import keys

WINDOW = 1.2
HOLD = 0.1  # seconds a slot taken in a block may wait for its send
BLOCK = 32  # the most slots taken in one round trip

# KEYS[1]: the sender's window. ARGV: slots per window, window seconds, slots wanted, a
# unique prefix for the members. -> {slots granted, seconds until one frees when none}
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
local room = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
if room > 0 then
  local n = math.min(room, tonumber(ARGV[3]))
  local members = {}
  for i = 1, n do
    members[#members + 1] = t
    members[#members + 1] = ARGV[4] .. i
  end
  redis.call('ZADD', KEYS[1], unpack(members))
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return {n, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - t)}
"""


class RateLimiter:
    """Per-sender slots for one worker process; thread-safe."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._take = client.register_script(_TAKE)
        self._held: dict[str, deque[float]] = {}  # sender -> deadlines of slots in hand
        self._lock = threading.Lock()

    def acquire(self, sender: str, mps: float, upcoming: int = 1) -> None:
        """Block until ``sender`` may send one more message. ``upcoming``: how many sends to
        this sender are about to follow (the block taken is no bigger, so none is wasted)."""
        per_window = max(1, int(mps))  # never more than mps in any WINDOW
        window = WINDOW if mps >= 1 else WINDOW / mps
        block = max(1, min(upcoming, BLOCK, per_window // 10))
        with self._lock:
            held = self._held.setdefault(sender, deque())
            while held and held[0] < time.monotonic():
                held.popleft()  # expired unused: the window still counts it
            if held:
                held.popleft()
                return
        while True:
            taken = time.monotonic()
            granted, wait = self._take(
                keys=[keys.sender_rate(sender)],
                args=[per_window, window, block, uuid.uuid4().hex],
            )
            if int(granted) > 0:
                with self._lock:
                    self._held[sender].extend([taken + HOLD] * (int(granted) - 1))
                return
            time.sleep(min(float(wait), 1.0))
