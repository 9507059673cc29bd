"""A fake Telnyx for the tests, speaking its Messages API v2 as its reference describes it:
``POST /v2/messages`` with a Bearer key and a JSON body, ``{"data": {...}}`` or ``{"errors":
[{"code", "title", "detail"}]}``; then ``message.sent`` and ``message.finalized`` events
posted to the message's ``webhook_url``, signed with Ed25519 over ``timestamp|body``
(``telnyx-signature-ed25519``, ``telnyx-timestamp``). It runs in the test's process."""

import asyncio
import base64
import json
import threading
import time
import uuid

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .conftest import free_port

API_KEY = "KEY0123456789_test"
# recipients the fake refuses, with Telnyx's code and HTTP status
REFUSED = {"+12125550666": ("40300", 422, "Blocked due to STOP message"),
           "+12125550429": ("10011", 429, "Too many requests")}  # fmt: skip


class FakeTelnyx:
    def __init__(self):
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.outbox: list[dict] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Route("/v2/messages", self.create, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.tasks: set[asyncio.Task] = set()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def signed(self, event: dict, at: float | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"data": event}).encode()
        stamp = str(int(time.time() if at is None else at))
        signature = self.key.sign(stamp.encode() + b"|" + body)
        headers = {
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
            "telnyx-timestamp": stamp,
            "content-type": "application/json",
        }
        return body, headers

    async def create(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "10009", "Authentication failed")
        message = await request.json()
        to = message.get("to", "")
        if to in REFUSED:
            code, status, title = REFUSED[to]
            return _error(status, code, title)
        sender = message.get("from") or message.get("messaging_profile_id")
        if not to.startswith("+") or not sender:
            return _error(422, "10016", "Phone number must be in +E.164 format")
        record = {
            "record_type": "message",
            "direction": "outbound",
            "id": str(uuid.uuid4()),
            "type": "MMS" if message.get("media_urls") else "SMS",
            "from": {"phone_number": message.get("from")},
            "to": [{"phone_number": to, "status": "queued"}],
            "text": message.get("text", ""),
            "media": [{"url": url} for url in message.get("media_urls", [])],
            "webhook_url": message.get("webhook_url"),
            "errors": [],
        }
        self.outbox.append(record)
        task = asyncio.create_task(self.deliver(record))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse({"data": record})

    async def deliver(self, record: dict) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            for kind, status in (("message.sent", "sent"), ("message.finalized", "delivered")):
                payload = {**record, "to": [{**record["to"][0], "status": status}]}
                event = {
                    "record_type": "event",
                    "id": str(uuid.uuid4()),
                    "event_type": kind,
                    "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "payload": payload,
                }
                body, headers = self.signed(event)
                await client.post(record["webhook_url"], content=body, headers=headers)


def _error(status: int, code: str, title: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "title": title, "detail": title}]}, status)
