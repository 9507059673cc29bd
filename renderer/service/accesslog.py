"""One access-log line and one latency observation per request.

The line never carries a secret: every ``sig`` value is replaced by ``REDACTED``, also one
inside another URL (``DELETE /v1/images?url=...%26sig%3D...``, encoded once or more), and
headers (where API keys travel) are not logged at all. Nor can a request forge lines: control
characters (a ``%0A`` decoded into the path) are written as ``\\xNN``. Lines are written to
stderr in batches, as nginx's ``access_log ... buffer= flush=`` does: when 100 are waiting,
or half a second after the first one, and at shutdown. Going through ``logging`` for each
line cost a fifth of the cache-hit throughput in ``python -m bench`` (LogRecord creation,
mostly).
"""

import asyncio
import contextlib
import copy
import functools
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renderer.service import metrics

# "sig=" after the start, "&", "?" or ";", or their percent-encodings (%26 %3F %3B, or
# %2526 ... when encoded again), up to the next separator, plain or encoded
SEPARATOR = r"(?:[&?;]|%(?:25)*(?:26|3[fFbB]))"
SIGNATURE = re.compile(
    rf"((?:^|{SEPARATOR})sig(?:=|%(?:25)*3[dD]))(?:(?!{SEPARATOR})[^\s])*", re.IGNORECASE
)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
BATCH_LINES = 100
FLUSH_SECONDS = 0.5


def redact(query: str) -> str:
    return SIGNATURE.sub(r"\1REDACTED", query)


def _escaped(text: str) -> str:
    return CONTROL.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text)


def _request(method: str, path: str, query: bytes) -> str:
    """The line's request, redacted and escaped."""
    text = query.decode("latin-1")
    return _escaped(f"{method} {path}{'?' + redact(text) if text else ''}")


# A cache hit is a request seen before, and redacting it again cost a tenth of a hit: the
# last requests with a short query are remembered. A bound by count and length, so that
# respelling one URL in ways without end (test_hostile) grows it by at most about 2.5 MB.
_remembered = functools.lru_cache(maxsize=1024)(_request)
REMEMBERED_QUERY_BYTES = 1024


class AccessLog:
    def __init__(self, app: ASGIApp, fd: int | None = None):
        self.app = app
        self.fd = sys.stderr.fileno() if fd is None else fd
        self.lines: list[str] = []
        self.flush_scheduled = False
        self.timers: dict[tuple[str, str, int], Any] = {}  # the histogram of each label set
        self.second, self.stamp = -1, ""  # the time up to the second, formatted once a second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing_on_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, size = 500, 0

        async def observe(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "other"  # bounded labels
            timer = self.timers.get((route, method, status))
            if timer is None:
                timer = self.timers[route, method, status] = metrics.REQUESTS.labels(
                    route, method, str(status)
                )
            timer.observe(seconds)
            client = (scope.get("client") or ("-", 0))[0]
            query = scope.get("query_string", b"")
            line = _remembered if len(query) <= REMEMBERED_QUERY_BYTES else _request
            request = line(scope["method"], scope["path"], query)
            self.write(
                f'{self.now()} access {client} "{request}" {status} {size} {seconds * 1000:.1f}ms'
            )

    def now(self) -> str:
        """The time in ISO 8601 with milliseconds, UTC (``datetime.isoformat``'s spelling)."""
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self.stamp}.{int((now - second) * 1000):03d}+00:00"

    def write(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= BATCH_LINES:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        metrics.flush()  # the counters a request adds to, batched like the lines
        if self.lines:
            data, self.lines = ("\n".join(self.lines) + "\n").encode(), []
            with contextlib.suppress(OSError):  # a closed stderr must not fail requests
                os.write(self.fd, data)

    def _flushing_on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.flush()
            return message

        return wrapped


def uvicorn_log_config() -> dict:
    """uvicorn's logging, and a plain formatter for ours: uvicorn's coloured one costs tens of
    microseconds a line, which the access log pays on every request."""
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["formatters"]["plain"] = {
        "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"
    }
    log_config["handlers"]["renderer"] = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "stream": "ext://sys.stderr",
    }
    log_config["loggers"]["renderer"] = {
        "handlers": ["renderer"],
        "level": "INFO",
        "propagate": False,
    }
    return log_config
