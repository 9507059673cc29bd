"""The HTTP service (Starlette). Read top to bottom: the app, its routes, then what each calls.

Errors are JSON ``{"error": {"code", "message"}}``; a client error is never a 500, and no
response carries a traceback.
"""

import asyncio
import hmac
import json
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape as xml_escape

from cachetools import LRUCache
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from twilio.request_validator import RequestValidator

from renderer import config, fields, lint, live, metrics, openapi, upload
from renderer.accesslog import AccessLog
from renderer.backend import RedisBackend
from renderer.cache import Entry, ImageCache
from renderer.catalog import Catalog, Template
from renderer.config import Settings, parse_bytes
from renderer.encode import normalize_format
from renderer.errors import (
    BudgetError,
    FieldErrors,
    RendererError,
    TemplateError,
    UnknownTemplate,
)
from renderer.orchestrator import redis_store, webhooks
from renderer.pool import Overloaded, RenderPool, RenderTimeout
from renderer.render import Job, plan, render
from renderer.signing import RESERVED, ExpiredURL, SignatureError, Signer

log = logging.getLogger(__name__)

MAX_QUERY_BYTES = 8 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_RECIPIENTS = 10_000
IMMUTABLE = "public, max-age=31536000, immutable"
KNOWN_URLS = 100_000
STUDIO = Path(__file__).parent / "studio"


def create_app(settings: Settings | None = None) -> Starlette:
    """The service; with no argument, configured from ``RENDERER_*`` variables."""
    settings = settings or Settings.from_env()
    service = Service(settings)
    return Starlette(
        routes=[
            Route("/i/{file}", image),
            Route("/v1/urls", create_urls, methods=["POST"]),
            Route("/v1/images", purge_image, methods=["DELETE"]),
            Route("/v1/templates", list_templates),
            Route("/v1/templates", upload_template, methods=["POST"]),
            Route("/v1/templates/{name}", show_template),
            Route("/v1/templates/{name}", delete_template, methods=["DELETE"]),
            Route("/v1/templates/{name}/lint", lint_template),
            Route("/v1/templates/{name}/sample.jpg", sample_image),
            Route("/v1/templates/{name}/preview", preview, methods=["POST"]),
            Route("/v1/live/stock/{sku}", stock, methods=["GET", "PUT"]),
            Route("/v1/webhooks/status", status_webhook, methods=["POST"]),
            Route("/v1/webhooks/inbound", inbound_webhook, methods=["POST"]),
            Route("/c/{code}", tracked_link),
            Route("/healthz", healthz),
            Route("/metrics", metrics_page),
            Route("/openapi.json", openapi_page),
            Route("/studio", lambda request: RedirectResponse("/studio/", status_code=308)),
            Mount("/studio", StaticFiles(directory=STUDIO, html=True), name="studio"),
        ],
        middleware=[Middleware(AccessLog)],
        exception_handlers={
            HTTPException: http_error,
            RendererError: renderer_error,
            Exception: server_error,
        },
        lifespan=service.lifespan,
    )


class Service:
    """Everything a request needs, made once per process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.catalog = Catalog(settings.templates)
        self.signer = Signer(settings.signing_keys)
        self.backend = RedisBackend(settings.redis_url) if settings.redis_url else None
        self.cache = ImageCache(
            settings.cache_bytes, self.backend, settings.cache_ttl, settings.render_timeout
        )
        self.stock = live.StockStore(self.backend)
        self.pool = RenderPool(
            settings.render_concurrency, settings.queue_limit, settings.render_timeout
        )
        # URL -> (cache key, Cache-Control) of immutable images already verified and planned:
        # a repeat fetch of the same URL skips HMAC, parsing and planning, which would give
        # the same answer (the keys only change with a restart).
        self.known_urls: LRUCache[bytes, tuple[str, str]] = LRUCache(maxsize=KNOWN_URLS)
        self._campaign_redis = None
        if settings.development_keys:
            log.warning(
                "RENDERER_SIGNING_KEYS or RENDERER_API_KEYS is not set: using the DEVELOPMENT "
                "keys (signing kid 'dev', API key 'dev-api-key'); anyone can forge URLs. "
                "Set both before going live."
            )
        log.info(
            "serving %d templates from %s; cache: %s",
            len(self.catalog.templates),
            settings.templates,
            f"memory + Redis at {self.backend.where}"
            if self.backend
            else "memory only (set RENDERER_REDIS_URL to share it)",
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette):
        app.state.service = self
        yield
        self.pool.close()
        if self.backend is not None:
            await self.backend.close()

    async def image(self, job: Job) -> tuple[Job, str, Entry, str]:
        """(job with live values, key, entry, where it came from), rendering if needed."""
        job = await live.resolve(job, self.stock)
        key = job.key()
        entry, source = await self.cache.fetch(key, lambda: self.pool.run(lambda: draw(job)))
        return job, key, entry, source

    def campaign_redis(self):
        """The orchestrator's Redis (RENDERER_REDIS_URL, or the embedded one a campaign
        started), for webhooks and tracked links."""
        if self._campaign_redis is None:
            try:
                self._campaign_redis = redis_store.connect(start=False)
            except RendererError as exc:
                raise NotConfigured(str(exc)) from None
        return self._campaign_redis

    def cache_control(self, job: Job) -> str:
        if not job.live:
            return IMMUTABLE
        max_age = self.settings.live_max_age
        if job.template.uses_clock and not job.pinned:  # the rounded "now" moves each minute
            max_age = min(max_age, 60 - datetime.now(UTC).second)
        return f"public, max-age={max_age}"


def draw(job: Job) -> Entry:
    """Render in a pool thread, and count it."""
    result = render(job)
    for stage, seconds in result.timings.items():
        metrics.STAGE.labels(stage).observe(seconds)
    encoded = result.encoded
    metrics.RENDERS.labels(job.template.name).inc()
    metrics.ENCODES.observe(encoded.encodes)
    metrics.IMAGE_BYTES.observe(len(encoded.data))
    return Entry(
        data=encoded.data,
        media_type=encoded.media_type,
        quality=encoded.quality,
        colors=encoded.colors,
        encodes=encoded.encodes,
        width=encoded.width,
        height=encoded.height,
        render_ms=round(result.seconds * 1000, 1),
        frames=encoded.frames,
        notes="; ".join(encoded.notes),
    )


# --- the image ---------------------------------------------------------------------------


async def image(request: Request) -> Response:
    """``GET /i/{template}.{jpg|png|gif}?fields&at&exp&kid&sig``: the signed image."""
    service: Service = request.app.state.service
    url = request.scope["raw_path"] + b"?" + request.scope["query_string"]
    known = service.known_urls.get(url)
    if known is not None:
        key, cache_control = known
        entry = service.cache.l1.get(key)
        if entry is not None:
            metrics.CACHE.labels("l1", "hit").inc()
            return _image_response(request, key, entry, cache_control, "l1")
    if len(request.scope["query_string"]) > MAX_QUERY_BYTES:
        raise URITooLong(f"the query is over {MAX_QUERY_BYTES:,} bytes")
    params = request.query_params.multi_items()
    service.signer.verify(request.url.path, params)
    name, dot, format = request.path_params["file"].rpartition(".")
    if not dot:
        raise NotFound("image URLs end in .jpg, .png or .gif")
    template = service.catalog.get(name)
    raw, at = _image_params(params, template)
    try:
        job = plan(template, raw, format=format, at=at)
    except ValueError as exc:  # the format
        raise NotFound(str(exc)) from None
    job, key, entry, source = await service.image(job)
    cache_control = service.cache_control(job)
    if not job.live and "exp" not in dict(params):
        service.known_urls[url] = (key, cache_control)
    return _image_response(request, key, entry, cache_control, source)


def _image_response(
    request: Request, key: str, entry: Entry, cache_control: str, source: str
) -> Response:
    headers = {"ETag": f'"{key}"', "Cache-Control": cache_control}
    if _etag_matches(request.headers.get("if-none-match", ""), key):
        return Response(status_code=304, headers=headers)
    metrics.BYTES_OUT.inc(len(entry.data))
    headers["X-Cache"] = source
    return Response(entry.data, media_type=entry.media_type, headers=headers)


def _image_params(params: list[tuple[str, str]], template: Template):
    names = [name for name, _ in params]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadRequest(f"parameter {repeated[0]!r} is given more than once")
    raw = {k: v for k, v in params if k not in RESERVED}
    for name in raw:
        if name in template.live_fields:
            raise BadRequest(f"{name!r} is live: it comes from the stock feed, not the URL")
    given = dict(params)
    return raw, _parse_at(given["at"]) if "at" in given else None


def _parse_at(value: str | int) -> datetime:
    """``at`` as unix seconds (preferred, short) or ISO 8601."""
    try:
        if isinstance(value, int) or str(value).lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        raise BadRequest(f"at must be unix seconds or ISO 8601; got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _etag_matches(header: str, key: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or f'"{key}"' in tags


# --- batch URLs --------------------------------------------------------------------------


async def create_urls(request: Request) -> JSONResponse:
    """``POST /v1/urls``: signed URLs for a batch of recipients, optionally pre-rendered."""
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    body = await _json_body(request)
    _only_keys(body, {"template", "format", "at", "exp", "prerender", "recipients"})
    if not isinstance(body.get("template"), str):
        raise BadRequest("template is required: a template name")
    template = service.catalog.get(body["template"])
    recipients = body.get("recipients")
    if not isinstance(recipients, list):
        raise BadRequest("recipients is required: a list of objects of field values")
    if len(recipients) > MAX_RECIPIENTS:
        raise PayloadTooLarge(f"at most {MAX_RECIPIENTS:,} recipients per request")
    try:
        format = normalize_format(str(body.get("format") or template.format))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    at = _parse_at(body["at"]) if body.get("at") is not None else None
    exp = body.get("exp")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool)):
        raise BadRequest("exp must be unix seconds")

    path = f"/i/{template.name}.{format}"
    extra = {"at": str(int(at.timestamp()))} if at else {}
    if exp is not None:
        extra["exp"] = str(exp)
    urls: list[str | None] = []
    errors: list[dict[str, Any]] = []
    jobs: list[tuple[int, Job]] = []
    for index, recipient in enumerate(recipients):
        try:
            raw = _recipient_values(recipient, template)
            jobs.append((index, plan(template, raw, format=format, at=at)))
        except FieldErrors as exc:
            errors += [
                {"index": index, "field": p.field, "message": p.message} for p in exc.problems
            ]
            urls.append(None)
            continue
        except BadRequest as exc:
            errors.append({"index": index, "field": None, "message": str(exc)})
            urls.append(None)
            continue
        urls.append(f"{service.settings.public_url}{path}?{service.signer.sign(path, raw | extra)}")

    answer: dict[str, Any] = {"template": template.name, "version": template.version}
    if body.get("prerender"):
        failures = await _prerender(service, jobs)
        errors += failures
        answer["prerendered"] = len(jobs) - len(failures)
    answer |= {"urls": urls, "errors": sorted(errors, key=lambda e: e["index"])}
    return JSONResponse(answer)


async def purge_image(request: Request) -> Response:
    """``DELETE /v1/images?url=...``: drop a signed URL's image from this process's L1 and
    from Redis (used when a person asks to be forgotten)."""
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    parts = urlsplit(request.query_params.get("url", ""))
    params = parse_qsl(parts.query, keep_blank_values=True)
    service.signer.verify(parts.path, params)
    name, _, format = parts.path.removeprefix("/i/").rpartition(".")
    template = service.catalog.get(name)
    raw, at = _image_params(params, template)
    job = await live.resolve(plan(template, raw, format=format, at=at), service.stock)
    key = job.key()
    service.cache.l1.pop(key, None)
    if service.backend is not None:
        await service.backend.call(lambda r: r.delete(f"mms:img:{key}"), fallback=None)
    return Response(status_code=204)


def _recipient_values(recipient: Any, template: Template) -> dict[str, str]:
    if not isinstance(recipient, dict):
        raise BadRequest("a recipient must be an object of field values")
    raw = {}
    for name, value in recipient.items():
        if name in template.live_fields:
            raise BadRequest(f"{name!r} is live: it comes from the stock feed, not the URL")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadRequest(f"{name!r} must be a string or a number")
        raw[name] = str(value)
    return raw


async def _prerender(service: Service, jobs: list[tuple[int, Job]]) -> list[dict[str, Any]]:
    """Render every job into the cache, as fast as the pool allows without starving others."""
    slots = asyncio.Semaphore(service.settings.render_concurrency)

    async def one(index: int, job: Job) -> dict[str, Any] | None:
        async with slots:
            while True:
                try:
                    await service.image(job)
                    return None
                except (Overloaded, RenderTimeout):
                    await asyncio.sleep(0.05)
                except RendererError as exc:
                    return {"index": index, "field": None, "message": f"prerender: {exc}"}

    results = await asyncio.gather(*(one(index, job) for index, job in jobs))
    return [failure for failure in results if failure]


# --- templates ---------------------------------------------------------------------------


async def list_templates(request: Request) -> JSONResponse:
    catalog: Catalog = request.app.state.service.catalog
    return JSONResponse(
        {
            "templates": [t.summary() for t in catalog.templates.values()],
            "errors": [{"template": e.template, "error": str(e)} for e in catalog.errors],
        }
    )


async def show_template(request: Request) -> JSONResponse:
    catalog: Catalog = request.app.state.service.catalog
    return JSONResponse(catalog.get(request.path_params["name"]).summary())


async def upload_template(request: Request) -> JSONResponse:
    """``POST /v1/templates``: a zip of a template folder (``application/zip``), or its files
    as multipart form parts; stored only if lint finds no error. The answer is the lint."""
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > upload.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"the upload is over {upload.MAX_UPLOAD_BYTES:,} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=config.MAX_TEMPLATE_FILES, max_part_size=MAX_BODY_BYTES)
        files = {
            part.filename: await part.read()
            for _, part in form.multi_items()
            if hasattr(part, "filename") and part.filename
        }
    else:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > upload.MAX_UPLOAD_BYTES:
                raise PayloadTooLarge(f"the upload is over {upload.MAX_UPLOAD_BYTES:,} bytes")
        files = await run_in_threadpool(upload.files_from_zip, bytes(body))
    name, findings = await run_in_threadpool(upload.store, service.catalog.folder, files)
    report = lint.report(findings)
    if report["errors"]:
        return error_response(
            422,
            "lint_failed",
            f"{name}: {report['errors']} lint errors; nothing was stored",
            lint=report,
        )
    template = await run_in_threadpool(service.catalog.reload, name)
    service.known_urls.clear()
    return JSONResponse(
        {"template": name, "version": template.version, "lint": report}, status_code=201
    )


async def delete_template(request: Request) -> Response:
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    await run_in_threadpool(service.catalog.remove, request.path_params["name"])
    service.known_urls.clear()
    return Response(status_code=204)


async def lint_template(request: Request) -> JSONResponse:
    """``GET /v1/templates/{name}/lint``: the lint report of a loaded template."""
    template = request.app.state.service.catalog.get(request.path_params["name"])
    findings = await run_in_threadpool(lint.lint, template)
    return JSONResponse(
        {"template": template.name, "version": template.version, **lint.report(findings)}
    )


async def sample_image(request: Request) -> Response:
    """``GET /v1/templates/{name}/sample.jpg``: the template with its sample values (the
    studio's thumbnails)."""
    service: Service = request.app.state.service
    template = service.catalog.get(request.path_params["name"])
    raw = fields.example_values(template.fields, "sample")
    _, key, entry, _ = await service.image(plan(template, raw, format="jpg"))
    headers = {"ETag": f'"{key}"', "Cache-Control": "public, max-age=300"}
    return Response(entry.data, media_type=entry.media_type, headers=headers)


async def preview(request: Request) -> Response:
    """``POST /v1/templates/{name}/preview``: render any values, with the figures."""
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    template = service.catalog.get(request.path_params["name"])
    body = await _json_body(request)
    _only_keys(body, {"fields", "format", "budget", "at"})
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise BadRequest("fields must be an object of field values")
    raw = {k: str(v) for k, v in fields.items() if v is not None}
    try:
        budget = parse_bytes(body["budget"]) if body.get("budget") is not None else None
        at = _parse_at(body["at"]) if body.get("at") is not None else None
        job = plan(template, raw, format=body.get("format"), budget=budget, at=at)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    job, key, entry, source = await service.image(job)
    return Response(
        entry.data,
        media_type=entry.media_type,
        headers={
            "ETag": f'"{key}"',
            "Cache-Control": "no-store",
            "X-Cache": source,
            "X-Render-Bytes": str(len(entry.data)),
            "X-Render-Budget": str(job.budget),
            "X-Render-Quality": str(entry.quality or ""),
            "X-Render-Colors": str(entry.colors or ""),
            "X-Render-Encodes": str(entry.encodes),
            "X-Render-Ms": str(entry.render_ms),
            "X-Render-Frames": str(entry.frames),
            "X-Render-Notes": entry.notes,
            "X-Template-Version": template.version,
        },
    )


# --- live values -------------------------------------------------------------------------


async def stock(request: Request) -> JSONResponse:
    """``PUT /v1/live/stock/{sku}`` with ``{"count": 47}``; ``GET`` returns it."""
    service: Service = request.app.state.service
    _authorize(request, service.settings)
    try:
        sku = live.check_sku(request.path_params["sku"])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if request.method == "PUT":
        try:
            count = live.check_count(await _json_body(request))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        await service.stock.set(sku, count)
        return JSONResponse({"sku": sku, "count": count})
    count = await service.stock.get(sku)
    if count is None:
        raise NotFound(f"no stock count for {sku!r}")
    return JSONResponse({"sku": sku, "count": count})


# --- campaigns: provider webhooks and tracked links ---------------------------------------


async def status_webhook(request: Request) -> Response:
    """``POST /v1/webhooks/status``: a Twilio StatusCallback, signature checked."""
    service: Service = request.app.state.service
    form = await _signed_form(request, service.settings)
    client = service.campaign_redis()
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    await run_in_threadpool(webhooks.record_status, client, sid, status, form.get("ErrorCode"))
    return Response(status_code=204)


async def inbound_webhook(request: Request) -> Response:
    """``POST /v1/webhooks/inbound``: a reply. STOP, START and HELP keywords; TwiML back."""
    service: Service = request.app.state.service
    form = await _signed_form(request, service.settings)
    client = service.campaign_redis()
    word = await run_in_threadpool(
        webhooks.inbound, client, form.get("From", ""), form.get("Body", "")
    )
    answer = {
        "stop": "You are unsubscribed and will receive no more messages. Reply START to "
        "subscribe again.",
        "start": "You are subscribed again. Reply STOP to cancel.",
        "help": service.settings.help_text,
    }.get(word or "")
    twiml = f"<Message>{xml_escape(answer)}</Message>" if answer else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{twiml}</Response>',
        media_type="application/xml",
    )


async def tracked_link(request: Request) -> Response:
    """``GET /c/{code}``: count the click and redirect to the link with its UTM parameters."""
    service: Service = request.app.state.service
    target = await run_in_threadpool(
        webhooks.click, service.campaign_redis(), request.path_params["code"]
    )
    if target is None:
        raise NotFound("no such link")
    return RedirectResponse(target, status_code=302)


async def _signed_form(request: Request, settings: Settings) -> dict[str, str]:
    if not settings.twilio_auth_token:
        raise NotConfigured("set RENDERER_TWILIO_AUTH_TOKEN to receive provider webhooks")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    url = settings.public_url + request.url.path
    signature = request.headers.get("x-twilio-signature", "")
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        raise SignatureError("missing or wrong X-Twilio-Signature")
    return form


# --- operations --------------------------------------------------------------------------


async def healthz(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    redis = None if service.backend is None else service.backend.available
    return JSONResponse(
        {"status": "ok", "templates": len(service.catalog.templates), "redis": redis}
    )


async def metrics_page(request: Request) -> Response:
    data, content_type = metrics.exposition()
    return Response(data, headers={"Content-Type": content_type})


async def openapi_page(request: Request) -> JSONResponse:
    return JSONResponse(openapi.SPEC)


# --- requests ----------------------------------------------------------------------------


def _authorize(request: Request, settings: Settings) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and any(
        hmac.compare_digest(key.strip().encode(), known.encode()) for known in settings.api_keys
    )
    if not valid:
        raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES:,} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None


def _only_keys(body: Any, allowed: set[str]) -> None:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")


# --- errors ------------------------------------------------------------------------------


class BadRequest(RendererError):
    code = "bad_request"


class Unauthorized(RendererError):
    code = "unauthorized"


class NotFound(RendererError):
    code = "not_found"


class PayloadTooLarge(RendererError):
    code = "too_large"


class URITooLong(RendererError):
    code = "uri_too_long"


class NotConfigured(RendererError):
    code = "not_configured"


STATUS: dict[type[RendererError], int] = {
    BadRequest: 400,
    FieldErrors: 400,
    BudgetError: 400,
    Unauthorized: 401,
    SignatureError: 403,
    NotFound: 404,
    UnknownTemplate: 404,
    ExpiredURL: 410,
    PayloadTooLarge: 413,
    URITooLong: 414,
    TemplateError: 422,
    Overloaded: 503,
    RenderTimeout: 503,
    live.LiveStoreUnavailable: 503,
    NotConfigured: 503,
    upload.UnsafeUpload: 400,
}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


async def http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    metrics.ERRORS.labels(code).inc()
    return error_response(exc.status_code, code, str(exc.detail))


async def renderer_error(request: Request, exc: RendererError) -> JSONResponse:
    status = next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 400)
    metrics.ERRORS.labels(exc.code).inc()
    extra = {}
    if isinstance(exc, FieldErrors):
        extra["fields"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    response = error_response(status, exc.code, str(exc), **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if retry_after := getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(retry_after)
    return response


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    metrics.ERRORS.labels("internal").inc()
    return error_response(500, "internal", "internal error; it has been logged")
