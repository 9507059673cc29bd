"""A local provider that speaks Twilio's Messages API, for rehearsals and tests.

``mms-renderer sandbox-provider`` serves it. It accepts messages like Twilio (Basic auth,
form fields), fetches each MediaUrl like a carrier (Content-Type must be an image; media over
600 KB fails with 30019), keeps an outbox a person can browse at ``/``, and posts status
callbacks (queued -> sent -> delivered, or failed) signed with X-Twilio-Signature. It can
fail a share of messages, and answer 429 to a share of requests (a "storm").
"""

import asyncio
import base64
import contextlib
import html
import random
import time
import uuid
from dataclasses import asdict, dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

MAX_MEDIA_BYTES = 600_000


@dataclass
class Message:
    sid: str
    to: str
    sender: str
    body: str
    media_url: str | None
    status_callback: str | None
    received_at: float
    status: str = "queued"
    error_code: str | None = None
    media_type: str | None = None
    media_bytes: int | None = None
    events: list[str] = field(default_factory=list)


def create_sandbox(
    account_sid: str = "ACsandbox",
    auth_token: str = "sandbox-token",
    failure_rate: float = 0.0,
    storm_rate: float = 0.0,
    seed: int | None = None,
) -> Starlette:
    outbox: list[Message] = []
    rng = random.Random(seed)
    validator = RequestValidator(auth_token)
    expected = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    tasks: set[asyncio.Task] = set()

    async def create(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            return _error(401, "20003", "Authenticate")
        if storm_rate and rng.random() < storm_rate:
            return _error(429, "20429", "Too Many Requests")
        form = await request.form()
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("From") or form.get("MessagingServiceSid") or ""
        if not to.startswith("+") or not sender:
            return _error(400, "21211", f"Invalid 'To' Phone Number: {to}")
        message = Message(
            sid="SM" + uuid.uuid4().hex,
            to=to,
            sender=sender,
            body=body,
            media_url=form.get("MediaUrl"),
            status_callback=form.get("StatusCallback"),
            received_at=time.time(),
        )
        outbox.append(message)
        task = asyncio.create_task(deliver(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return JSONResponse(_resource(message, account_sid), status_code=201)

    async def deliver(message: Message) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            if message.media_url:
                try:
                    media = await client.get(message.media_url)
                    message.media_type = media.headers.get("content-type", "")
                    message.media_bytes = len(media.content)
                    if media.status_code != 200 or not message.media_type.startswith("image/"):
                        message.error_code = "30008"  # unknown error fetching the media
                    elif message.media_bytes > MAX_MEDIA_BYTES:
                        message.error_code = "30019"  # content size exceeds carrier limit
                except httpx.HTTPError:
                    message.error_code = "30008"
            if message.error_code is None and failure_rate and rng.random() < failure_rate:
                message.error_code = "30003"  # unreachable destination handset
            steps = ["sent", "failed" if message.error_code else "delivered"]
            for status in steps:
                message.status = status
                message.events.append(status)
                await callback(client, message)

    async def callback(client: httpx.AsyncClient, message: Message) -> None:
        if not message.status_callback:
            return
        params = {
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "AccountSid": account_sid,
            "To": message.to,
            "From": message.sender,
        }
        if message.error_code:
            params["ErrorCode"] = message.error_code
        signature = validator.compute_signature(message.status_callback, params)
        with contextlib.suppress(httpx.HTTPError):  # Twilio does not retry callbacks either
            await client.post(
                message.status_callback, data=params, headers={"X-Twilio-Signature": signature}
            )

    async def show(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            return _error(401, "20003", "Authenticate")
        sid = request.path_params["message"].removesuffix(".json")
        found = next((m for m in outbox if m.sid == sid), None)
        if found is None:
            return _error(404, "20404", "not found")
        return JSONResponse(_resource(found, account_sid))

    async def listing(request: Request) -> Response:
        if request.method == "POST":
            return await create(request)
        if request.headers.get("authorization") != expected:
            return _error(401, "20003", "Authenticate")
        to, sender = request.query_params.get("To"), request.query_params.get("From")
        found = [m for m in outbox if (not to or m.to == to) and (not sender or m.sender == sender)]
        return JSONResponse({"messages": [_resource(m, account_sid) for m in found]})

    async def outbox_json(request: Request) -> Response:
        return JSONResponse({"messages": [asdict(m) for m in outbox]})

    async def outbox_page(request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{html.escape(m.to)}</td><td>{html.escape(m.sender)}</td>"
            f"<td>{html.escape(m.body)}</td><td>{html.escape(m.media_type or '')} "
            f"{m.media_bytes or ''}</td><td>{m.status} {m.error_code or ''}</td></tr>"
            for m in reversed(outbox[-500:])
        )
        return HTMLResponse(
            "<!doctype html><title>Sandbox outbox</title><h1>Sandbox outbox</h1>"
            f"<p>{len(outbox)} messages</p><table border=1 cellpadding=4><tr><th>To</th>"
            f"<th>From</th><th>Body</th><th>Media</th><th>Status</th></tr>{rows}</table>"
        )

    base = f"/2010-04-01/Accounts/{account_sid}/Messages"
    return Starlette(
        routes=[
            Route(f"{base}.json", listing, methods=["GET", "POST"]),
            Route(f"{base}/{{message}}", show),
            Route("/outbox.json", outbox_json),
            Route("/", outbox_page),
        ]
    )


def _resource(message: Message, account_sid: str) -> dict:
    return {
        "sid": message.sid,
        "account_sid": account_sid,
        "to": message.to,
        "from": message.sender,
        "body": message.body,
        "status": message.status,
        "error_code": message.error_code,
        "num_media": "1" if message.media_url else "0",
        "date_created": time.strftime(
            "%a, %d %b %Y %H:%M:%S +0000", time.gmtime(message.received_at)
        ),
    }


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": int(code), "message": message, "status": status}, status_code=status
    )
