"""The baseline for cache hits: a bare Starlette route that returns the same bytes from memory.

BENCH_BODY=/path/to/image.jpg uvicorn bench.bare_app:app
"""

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ.get("BENCH_BODY", os.devnull)).read_bytes()


async def image(request: Request) -> Response:
    return Response(BODY, media_type="image/jpeg")


app = Starlette(routes=[Route("/i/{file}", image), Route("/healthz", image)])
