"""A local provider that speaks Twilio's Messages API, for rehearsals and tests.

``mms-renderer sandbox-provider`` serves it. It accepts messages like Twilio (Basic auth,
form fields), fetches each MediaUrl like a carrier (Content-Type must be an image; media over
600 KB fails with 30019), keeps an outbox a person can browse at ``/``, and posts status
callbacks (queued -> sent -> delivered, or failed) signed with X-Twilio-Signature. It can
fail a share of messages, answer 429 to a share of requests (a "storm"), and, with ``chaos``,
post each message's callbacks in a random order, one of them twice, and half of the time
before the create call has answered, as a real provider sometimes does.

``SandboxProvider`` is the client: Twilio's, pointed at the sandbox (RENDERER_PROVIDER=sandbox
sets the sandbox's address and credentials as defaults).
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

from renderer.orchestrator.providers.twilio import TwilioProvider

MAX_MEDIA_BYTES = 600_000


class SandboxProvider(TwilioProvider):
    """The sandbox speaks Twilio's API: the same client, under its own name."""

    name = "sandbox"


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
    chaos: bool = False,
    latency: float = 0.0,
    deliver: bool = True,
) -> Starlette:
    """The sandbox as an ASGI app (``mms-renderer sandbox-provider`` serves it). ``latency``:
    seconds each create call takes to answer, as a real provider's does; without
    ``deliver``, messages are accepted and kept but their media is not fetched and no
    callback is posted (a benchmark of the sending side alone)."""
    sandbox = Sandbox(account_sid, auth_token, failure_rate, storm_rate, seed, chaos)
    sandbox.latency, sandbox.deliver_messages = latency, deliver
    base = f"/2010-04-01/Accounts/{account_sid}/Messages"
    return Starlette(
        routes=[
            Route(f"{base}.json", sandbox.listing, methods=["GET", "POST"]),
            Route(f"{base}/{{message}}", sandbox.show),
            Route("/outbox.json", sandbox.outbox_json),
            Route("/", sandbox.outbox_page),
        ]
    )


class Sandbox:
    """The outbox and the routes of Twilio's Messages API that the campaigns use."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        failure_rate: float,
        storm_rate: float,
        seed: int | None,
        chaos: bool = False,
    ):
        self.account_sid, self.chaos = account_sid, chaos
        self.failure_rate, self.storm_rate = failure_rate, storm_rate
        self.outbox: list[Message] = []
        self.rng = random.Random(seed)
        self.validator = RequestValidator(auth_token)
        self.expected = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.tasks: set[asyncio.Task] = set()
        self.latency, self.deliver_messages = 0.0, True
        # deliveries (media fetch, callbacks) in progress at once: a carrier's pace, so that
        # a burst of sends does not turn into a burst of callbacks that time out and are lost
        self.delivering = asyncio.Semaphore(16)

    async def create(self, request: Request) -> Response:
        if request.headers.get("authorization") != self.expected:
            return _error(401, "20003", "Authenticate")
        if self.storm_rate and self.rng.random() < self.storm_rate:
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
        self.outbox.append(message)
        if self.latency:
            await asyncio.sleep(self.latency)
        if not self.deliver_messages:
            return JSONResponse(_resource(message, self.account_sid), status_code=201)
        if self.chaos and self.rng.random() < 0.5:
            await self.deliver(message)  # every callback before the create call answers
            return JSONResponse(_resource(message, self.account_sid), status_code=201)
        task = asyncio.create_task(self.deliver(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse(_resource(message, self.account_sid), status_code=201)

    async def deliver(self, message: Message) -> None:
        async with self.delivering, httpx.AsyncClient(timeout=30) as client:
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
            if (
                message.error_code is None
                and self.failure_rate
                and self.rng.random() < self.failure_rate
            ):
                message.error_code = "30003"  # unreachable destination handset
            final = "failed" if message.error_code else "delivered"
            steps = ["sent", final]
            if self.chaos:
                steps = ["queued", *steps, self.rng.choice(steps)]
                self.rng.shuffle(steps)
            for status in steps:
                if not self.chaos:
                    message.status = status
                message.events.append(status)
                await self.callback(client, message, status)
            message.status = final

    async def callback(self, client: httpx.AsyncClient, message: Message, status: str) -> None:
        if not message.status_callback:
            return
        params = {
            "MessageSid": message.sid,
            "MessageStatus": status,
            "AccountSid": self.account_sid,
            "To": message.to,
            "From": message.sender,
        }
        if message.error_code:
            params["ErrorCode"] = message.error_code
        signature = self.validator.compute_signature(message.status_callback, params)
        with contextlib.suppress(httpx.HTTPError):  # Twilio does not retry callbacks either
            await client.post(
                message.status_callback, data=params, headers={"X-Twilio-Signature": signature}
            )

    async def show(self, request: Request) -> Response:
        if request.headers.get("authorization") != self.expected:
            return _error(401, "20003", "Authenticate")
        sid = request.path_params["message"].removesuffix(".json")
        found = next((m for m in self.outbox if m.sid == sid), None)
        if found is None:
            return _error(404, "20404", "not found")
        return JSONResponse(_resource(found, self.account_sid))

    async def listing(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        if request.headers.get("authorization") != self.expected:
            return _error(401, "20003", "Authenticate")
        to, sender = request.query_params.get("To"), request.query_params.get("From")
        found = [
            m for m in self.outbox if (not to or m.to == to) and (not sender or m.sender == sender)
        ]
        return JSONResponse({"messages": [_resource(m, self.account_sid) for m in found]})

    async def outbox_json(self, request: Request) -> Response:
        return JSONResponse({"messages": [asdict(m) for m in self.outbox]})

    async def outbox_page(self, request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{html.escape(m.to)}</td><td>{html.escape(m.sender)}</td>"
            f"<td>{html.escape(m.body)}</td><td>{html.escape(m.media_type or '')} "
            f"{m.media_bytes or ''}</td><td>{m.status} {m.error_code or ''}</td></tr>"
            for m in reversed(self.outbox[-500:])
        )
        return HTMLResponse(
            "<!doctype html><title>Sandbox outbox</title><h1>Sandbox outbox</h1>"
            f"<p>{len(self.outbox)} messages</p><table border=1 cellpadding=4><tr><th>To</th>"
            f"<th>From</th><th>Body</th><th>Media</th><th>Status</th></tr>{rows}</table>"
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
