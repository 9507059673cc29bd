"""One access-log line and one latency observation per request.

The log line never carries a secret: ``sig`` values are replaced by ``REDACTED`` and headers
(where API keys travel) are not logged at all.
"""

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renderer import metrics

log = logging.getLogger("renderer.access")
SIGNATURE = re.compile(r"(^|&)(sig=)[^&]*")


def redact(query: str) -> str:
    return SIGNATURE.sub(r"\1\2REDACTED", query)


class AccessLog:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            metrics.REQUESTS.labels(route, scope["method"], str(status)).observe(seconds)
            query = scope.get("query_string", b"").decode("latin-1")
            client = (scope.get("client") or ("-", 0))[0]
            log.info(
                '%s "%s %s%s" %d %d %.1fms',
                client,
                scope["method"],
                scope["path"],
                f"?{redact(query)}" if query else "",
                status,
                size,
                seconds * 1000,
            )
