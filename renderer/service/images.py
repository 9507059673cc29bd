"""The image routes: the signed image itself, batches of signed URLs, purge, and preview.

``GET /i/{template}.{jpg|png|gif}`` is the hot path: a repeat fetch of an immutable URL is
answered from the cache's memo of verified URLs without HMAC or planning, and before routing
(``CachedImages``).
"""

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from renderer.core import fields
from renderer.core.catalog import Template
from renderer.core.encode import normalize_format
from renderer.core.errors import FieldErrors, RendererError
from renderer.core.limits import parse_bytes
from renderer.core.render import Job, parse_at, plan
from renderer.service import metrics
from renderer.service.cache import Entry
from renderer.service.http import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    URITooLong,
    authorize,
    json_body,
)
from renderer.service.limits import MAX_QUERY_BYTES, MAX_RECIPIENTS
from renderer.service.pool import Overloaded, RenderTimeout
from renderer.service.signing import RESERVED, canonically_spelled
from renderer.service.state import Service


class CachedImages:
    """Answers a repeat GET of a remembered immutable image URL before routing. The memo's
    lookup is all the work a hit needs; Starlette's routing and its request and response
    objects cost a hit about as much again (``python -m bench``, scenario 2). Anything else
    goes on to the routes; ``route`` is the image route, for the access log's label."""

    def __init__(self, app: ASGIApp, route: Route):
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"][:3] == "/i/":
            cache = scope["app"].state.service.cache
            known = cache.recall(scope["raw_path"] + b"?" + scope["query_string"])
            if known is not None:
                scope["route"] = self.route
                await ImageResponse(_if_none_match(scope), *known, "l1")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def image(request: Request) -> "ImageResponse":
    """``GET /i/{template}.{jpg|png|gif}?fields&at&exp&kid&sig``: the signed image (a URL
    already remembered is answered by ``CachedImages``)."""
    service: Service = request.app.state.service
    url = request.scope["raw_path"] + b"?" + request.scope["query_string"]
    if len(request.scope["query_string"]) > MAX_QUERY_BYTES:
        raise URITooLong(f"the query is over {MAX_QUERY_BYTES:,} bytes")
    params = _query(request.scope["query_string"])
    message = service.signer.verify(request.url.path, params)
    job = await _planned(service, request.path_params["file"], params)
    job, key, entry, source = await service.image(job)
    cache_control = service.cache_control(job, versioned=any(k == "v" for k, _ in params))
    spelled = canonically_spelled(url.decode("latin-1"), message, params)
    if not job.live and "exp" not in dict(params) and spelled:
        service.cache.remember(url, key, cache_control)
    return ImageResponse(_if_none_match(request.scope), key, cache_control, entry, source)


def _query(raw: bytes) -> list[tuple[str, str]]:
    """The query's pairs. Invalid UTF-8 is refused rather than read as U+FFFD, so a signed
    value holding U+FFFD cannot be respelled as %FF, %FE, %80 ... without end."""
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the query is not UTF-8") from None


async def _planned(service: Service, file: str, params: list[tuple[str, str]]) -> Job:
    """The job a signed image URL names (its file ``name.format`` and its parameters): the
    version it was signed for (``v``), while the store keeps it, else the one served."""
    name, dot, format = file.rpartition(".")
    if not dot:
        raise NotFound("image URLs end in .jpg, .png or .gif")
    template = service.catalog.get(name)
    version = dict(params).get("v")
    if version and version != template.version:
        template = await service.store.template_at(name, version)
    names = [name for name, _ in params]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadRequest(f"parameter {repeated[0]!r} is given more than once")
    raw = {k: v for k, v in params if k not in RESERVED}
    template.refuse_live(raw, "the URL")
    given = dict(params)
    at = _at(given["at"]) if "at" in given else None
    try:
        return plan(template, raw, format=format, at=at)
    except ValueError as exc:  # the format
        raise NotFound(str(exc)) from None


class ImageResponse:
    """An image, or 304 Not Modified when ``if_none_match`` names its ETag, sent as the two
    ASGI messages it is (the same for the route and for ``CachedImages``). A HEAD gets the
    headers only, and its bytes are not counted as sent."""

    def __init__(self, if_none_match: str, key: str, cache_control: str, entry: Entry, source: str):
        self.headers = [(b"etag", f'"{key}"'.encode()), (b"cache-control", cache_control.encode())]
        self.entry = entry
        self.status = 304 if _etag_matches(if_none_match, key) else 200
        if self.status == 200:
            self.headers += [
                (b"x-cache", source.encode()),
                (b"content-type", entry.media_type.encode()),
                (b"content-length", str(len(entry.data)).encode()),
            ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = self.status == 200 and scope["method"] != "HEAD"  # the length, not the bytes
        body = self.entry.data if sent else b""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": body})
        if body:
            metrics.SENT_BYTES.add(len(body))


def _if_none_match(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return value.decode("latin-1")
    return ""


def _etag_matches(header: str, key: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or f'"{key}"' in tags


def _at(value: Any) -> datetime:
    try:
        return parse_at(value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


async def create_urls(request: Request) -> JSONResponse:
    """``POST /v1/urls``: signed URLs for a batch of recipients, optionally pre-rendered."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    body = await json_body(request, {"template", "format", "at", "exp", "prerender", "recipients"})
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
    at = _at(body["at"]) if body.get("at") is not None else None
    exp = body.get("exp")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool)):
        raise BadRequest("exp must be unix seconds")

    path = f"/i/{template.name}.{format}"
    extra = {"v": template.version}
    if at:
        extra["at"] = str(int(at.timestamp()))
    if exp is not None:
        extra["exp"] = str(exp)
    urls: list[str | None] = []
    errors: list[dict[str, Any]] = []
    jobs: list[tuple[int, Job]] = []
    for index, recipient in enumerate(recipients):
        try:
            raw = _recipient_values(recipient, template, "the URL")
            jobs.append((index, plan(template, raw, format=format, at=at)))
        except FieldErrors as exc:
            errors += [
                {"index": index, "field": p.field, "message": p.message} for p in exc.problems
            ]
            urls.append(None)
            continue
        except (RendererError, ValueError) as exc:  # one bad row never fails the batch
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


def _recipient_values(recipient: Any, template: Template, where: str | None) -> dict[str, str]:
    """A recipient's values as strings; ``where`` they come from, if live fields are refused
    there."""
    if not isinstance(recipient, dict):
        raise BadRequest("a recipient must be an object of field values")
    raw = {}
    for name, value in recipient.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadRequest(f"{name!r} must be a string or a number")
        raw[name] = str(value)
    if where:
        template.refuse_live(raw, where)
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


async def purge_image(request: Request) -> Response:
    """``DELETE /v1/images?url=...``: drop a signed URL's image from the caches (used when a
    person asks to be forgotten)."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    parts = urlsplit(request.query_params.get("url", ""))
    params = _query(parts.query.encode("latin-1", "replace"))
    service.signer.verify(parts.path, params)
    job = await _planned(service, parts.path.removeprefix("/i/"), params)
    job = await service.live.resolve(job)
    await service.cache.purge(job.key())
    await service.store.announce_purge(job.key())  # every other process's L1
    return Response(status_code=204)


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
    """``POST /v1/templates/{name}/preview``: render any values, with the figures; of a kept
    version when the body names one."""
    service: Service = request.app.state.service
    authorize(request, service.settings.api_keys)
    template = service.catalog.get(request.path_params["name"])
    body = await json_body(request, {"fields", "format", "budget", "at", "version"})
    if body.get("version") not in (None, template.version):  # a kept version, not the served
        template = await service.store.template_at(template.name, str(body["version"]))
    values = body.get("fields", {})
    if not isinstance(values, dict):
        raise BadRequest("fields must be an object of field values")
    raw = _recipient_values({k: v for k, v in values.items() if v is not None}, template, None)
    try:
        budget = parse_bytes(body["budget"]) if body.get("budget") is not None else None
        at = parse_at(body["at"]) if body.get("at") is not None else None
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
            "X-Render-Fit": entry.fit,
            "X-Render-Boxes": entry.boxes,
            "X-Template-Version": template.version,
        },
    )
