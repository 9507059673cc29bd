"""Where renders run: a bounded thread pool, a bounded wait queue, and a time limit.

Rendering is CPU work and never runs on the event loop. At most ``concurrency`` renders run
at once (CairoSVG's drawing and Pillow's encoders release the GIL); at most ``queue_limit``
more wait. Past that the answer is 503 with Retry-After at once, not an unbounded queue; a
render not finished ``timeout`` seconds after it arrived is abandoned with 503 (it still
holds its slot until it ends, so the bound on CPU work holds).
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from renderer.core.errors import RendererError

T = TypeVar("T")


class Overloaded(RendererError):
    code = "overloaded"
    status = 503
    retry_after = 1


class RenderTimeout(RendererError):
    code = "render_timeout"
    status = 503
    retry_after = 2


class RenderPool:
    def __init__(self, concurrency: int, queue_limit: int, timeout: float):
        self.capacity = concurrency + queue_limit
        self.timeout = timeout
        self.admitted = 0  # running + waiting; changed only on the event loop
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="render")

    async def run(self, function: Callable[[], T]) -> T:
        """``function()`` in the pool; Overloaded or RenderTimeout (both 503) if it cannot be."""
        if self.admitted >= self.capacity:
            raise Overloaded("too many renders waiting; retry shortly")
        loop = asyncio.get_running_loop()
        self.admitted += 1
        arrived = time.monotonic()
        future = self.executor.submit(function)
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            waited = time.monotonic() - arrived
            raise RenderTimeout(f"render not done after {waited:.1f} s; retry shortly") from None

    def _release(self) -> None:
        self.admitted -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
