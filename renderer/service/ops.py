"""The operators' routes: liveness, Prometheus metrics, the OpenAPI description."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.service import metrics, openapi


async def healthz(request: Request) -> JSONResponse:
    service = request.app.state.service
    redis = None if service.backend is None else service.backend.available
    return JSONResponse(
        {"status": "ok", "templates": len(service.catalog.templates), "redis": redis}
    )


async def metrics_page(request: Request) -> Response:
    data, content_type = metrics.exposition(request.app.state.service.settings.metrics_dir)
    return Response(data, headers={"Content-Type": content_type})


async def openapi_page(request: Request) -> JSONResponse:
    return JSONResponse(openapi.SPEC)
