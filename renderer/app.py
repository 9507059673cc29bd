"""The HTTP service (Starlette). Read top to bottom: the routes, then what each one calls.

Errors are JSON ``{"error": {"code", "message"}}``; a client error is never a 500, and no
response carries a traceback.
"""

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from renderer import config
from renderer.catalog import Catalog
from renderer.errors import RendererError, UnknownTemplate

log = logging.getLogger(__name__)


def create_app(templates: Path | None = None) -> Starlette:
    """The service for one templates folder."""
    catalog = Catalog(templates or config.templates_dir())
    for error in catalog.errors:
        log.error("template not loaded: %s", error)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "templates": len(catalog.templates)})

    async def list_templates(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "templates": [t.summary() for t in catalog.templates.values()],
                "errors": [{"template": e.template, "error": str(e)} for e in catalog.errors],
            }
        )

    async def show_template(request: Request) -> JSONResponse:
        return JSONResponse(catalog.get(request.path_params["name"]).summary())

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/v1/templates", list_templates),
            Route("/v1/templates/{name}", show_template),
        ],
        exception_handlers={
            HTTPException: http_error,
            RendererError: renderer_error,
            Exception: server_error,
        },
    )
    app.state.catalog = catalog
    return app


STATUS = {UnknownTemplate: 404}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def renderer_error(request: Request, exc: RendererError) -> JSONResponse:
    return error_response(STATUS.get(type(exc), 400), exc.code, str(exc))


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; it has been logged")
