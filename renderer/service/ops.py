"""The operators' routes: liveness, Prometheus metrics, the OpenAPI description."""

import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.service import metrics, openapi


async def healthz(request: Request) -> JSONResponse:
    """Liveness; with which process answered and the template versions it serves, so that
    an operator (or a test) can see every worker agree."""
    service = request.app.state.service
    redis = None if service.backend is None else service.backend.available
    return JSONResponse(
        {
            "status": "ok",
            "templates": len(service.catalog.templates),
            "versions": {name: t.version for name, t in service.catalog.templates.items()},
            "redis": redis,
            "store": service.store.backend is not None and service.store.backend.available,
            "pid": os.getpid(),
        }
    )


async def metrics_page(request: Request) -> Response:
    data, content_type = metrics.exposition(request.app.state.service.settings.metrics_dir)
    return Response(data, headers={"Content-Type": content_type})


async def openapi_page(request: Request) -> JSONResponse:
    return JSONResponse(openapi.SPEC)
