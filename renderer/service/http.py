"""What every route shares: API-key auth, reading bodies within their limits, and errors.

Errors are JSON ``{"error": {"code", "message"}}`` with the status the error class carries
(``RendererError.status``); a client error is never a 500, and no response carries a
traceback.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from renderer.core.errors import FieldErrors, RendererError
from renderer.service import metrics
from renderer.service.limits import MAX_BODY_BYTES

log = logging.getLogger(__name__)


class BadRequest(RendererError):
    code = "bad_request"


class Unauthorized(RendererError):
    code = "unauthorized"
    status = 401


class NotFound(RendererError):
    code = "not_found"
    status = 404


class PayloadTooLarge(RendererError):
    code = "too_large"
    status = 413


class URITooLong(RendererError):
    code = "uri_too_long"
    status = 414


class NotConfigured(RendererError):
    code = "not_configured"
    status = 503


def authorize(request: Request, api_keys: tuple[str, ...]) -> str:
    """Who is asking: ``key:`` and a short hash of their API key (never the key itself), for
    records such as who stored a template. Unauthorized unless the request carries one of
    ``api_keys`` as a bearer token."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and any(
        hmac.compare_digest(key.strip().encode(), known.encode()) for known in api_keys
    )
    if not valid:
        raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")
    return "key:" + hashlib.sha256(key.strip().encode()).hexdigest()[:8]


def refuse_declared_over(request: Request, limit: int, what: str = "the body") -> None:
    """413 at once when the body's Content-Length says it is over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} is over {limit:,} bytes")


async def read_body(request: Request, limit: int, what: str = "the body") -> bytearray:
    """The whole body, refused with 413 as soon as it is over ``limit`` bytes: by its
    Content-Length when it has one, else while it streams in. (A bytearray: copying it into
    bytes would hold it twice.)"""
    body = bytearray()
    async for chunk in limited(request, limit, what):
        body += chunk
    return body


async def limited(request: Request, limit: int, what: str = "the body") -> AsyncIterator[bytes]:
    """The body's chunks, 413 as soon as they are over ``limit`` bytes: by its
    Content-Length when it has one, else counted while they stream in (chunked)."""
    refuse_declared_over(request, limit, what)
    seen = 0
    chunks = request.stream()
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(f"{what} is over {limit:,} bytes")
        yield chunk


async def json_body(request: Request, allowed: set[str] | None = None) -> Any:
    """The body as JSON; with ``allowed``, an object with only those keys. BadRequest says
    what is wrong."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    if allowed is None:
        return data
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    return data


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


async def http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    metrics.ERRORS.labels(code).inc()
    return error_response(exc.status_code, code, str(exc.detail))


async def renderer_error(request: Request, exc: RendererError) -> JSONResponse:
    metrics.ERRORS.labels(exc.code).inc()
    extra = {}
    if isinstance(exc, FieldErrors):
        extra["fields"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    response = error_response(exc.status, exc.code, str(exc), **extra)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if retry_after := getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(retry_after)
    return response


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    metrics.ERRORS.labels("internal").inc()
    return error_response(500, "internal", "internal error; it has been logged")


EXCEPTION_HANDLERS = {
    HTTPException: http_error,
    RendererError: renderer_error,
    Exception: server_error,
}
