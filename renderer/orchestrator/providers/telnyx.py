"""Telnyx's Messages API v2, as a ``Provider``.

A send is ``POST {base}/v2/messages`` with the API key as a Bearer token and a JSON body
(``from`` or ``messaging_profile_id``, ``to``, ``text``, ``media_urls``, ``webhook_url``);
Telnyx answers ``{"data": {"id": ...}}``, or ``{"errors": [{"code", "title", "detail"}]}``.
Delivery receipts and replies are JSON events (``message.sent``, ``message.finalized``,
``message.received``) signed with Ed25519 over ``{telnyx-timestamp}|{raw body}``: the
signature, base64, in ``telnyx-signature-ed25519``; the account's public key (base64, from
the Mission Control portal) verifies it, and a timestamp more than ``TOLERANCE`` seconds
away is refused (a replayed webhook).

Telnyx cannot be asked for a message by recipient (its detail records are reports made
later), so a send that crashed mid-call is left ``ambiguous`` for a person rather than sent
twice. A reply cannot be answered inline either: the STOP and HELP answers are the messaging
profile's own (configure them there).
"""

import base64
import binascii
import json
import time
from collections.abc import Mapping
from datetime import datetime

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from renderer.orchestrator.providers.base import (
    Accepted,
    Ambiguous,
    ErrorClass,
    Inbound,
    Refused,
    StatusUpdate,
    WebhookRejected,
    classify_code,
    request,
    retry_after,
)

DEFAULT_BASE_URL = "https://api.telnyx.com"
TOLERANCE = 300  # seconds between the webhook's timestamp and our clock
# a recipient's status in message.sent / message.finalized -> our lifecycle
STATES = {
    "sent": "sent",
    "delivered": "delivered",
    "delivery_failed": "failed",
    "sending_failed": "failed",
}
# From Telnyx's API and messaging error references: authentication and authorization
# (10009, 10010, HTTP 401/403), an inactive or wrong sender (10001, 40305 invalid from, 40310
# to 40318 sender/profile not set up for this traffic, 40329 unregistered 10DLC campaign), a
# wrong base URL ("config", HTTP 404).
ACCOUNT_ERRORS = {
    "10001", "10009", "10010", "40305", "40310", "40311", "40312", "40313", "40315", "40316",
    "40317", "40318", "40329", "401", "403", "404", "config",
}  # fmt: skip
# Rate limits (10011, 40011, HTTP 429), Telnyx's own trouble (10007 unexpected, 10008
# timeout, HTTP 5xx), a carrier temporarily blocking as spam (40002) or down (40006).
TRANSIENT_ERRORS = {"10007", "10008", "10011", "40002", "40006", "40011", "429"}
OPTED_OUT = "40300"  # blocked: the recipient replied STOP to this sender


class TelnyxProvider:
    name = "telnyx"

    def __init__(
        self,
        api_key: str,
        public_key: str,
        base_url: str = DEFAULT_BASE_URL,
        messaging_profile_id: str = "",
        connections: int = 32,
    ):
        self.base_url = base_url.rstrip("/")
        self.profile = messaging_profile_id
        self.verifier = _public_key(public_key) if public_key else None
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def send(
        self,
        to: str,
        sender: str | None,
        service: str | None,
        body: str,
        media_url: str | None,
        status_callback: str,
    ) -> Accepted:
        message: dict = {"to": to, "text": body, "webhook_url": status_callback}
        if sender:
            message["from"] = sender
        if service or self.profile:
            message["messaging_profile_id"] = service or self.profile
        if media_url:
            message["media_urls"] = [media_url]
        response = request(
            self.client.post, f"{self.base_url}/v2/messages", json=message, base_url=self.base_url
        )
        if response.status_code < 300:
            data = response.json()["data"]
            return Accepted(data["id"], (data.get("to") or [{}])[0].get("status", "queued"))
        error = _first_error(response)
        raise Refused(
            str(error.get("code") or response.status_code),
            str(error.get("detail") or error.get("title") or response.reason_phrase),
            retry_after(response.headers.get("retry-after")),
        )

    def find(self, to: str, sender: str | None, since: datetime, body: str) -> str | None:
        raise Ambiguous("Telnyx cannot look a message up by recipient")

    def status_update(self, url: str, headers: Mapping[str, str], body: bytes) -> StatusUpdate:
        event = self._verified(headers, body)
        payload = event.get("payload") or {}
        if event.get("event_type") not in ("message.sent", "message.finalized"):
            return StatusUpdate(str(payload.get("id", "")), None)
        status = ((payload.get("to") or [{}])[0]).get("status", "")
        errors = payload.get("errors") or [{}]
        state = STATES.get(status)
        code = errors[0].get("code") if state == "failed" else None
        return StatusUpdate(str(payload.get("id", "")), state, str(code) if code else None)

    def inbound(self, url: str, headers: Mapping[str, str], body: bytes) -> Inbound:
        event = self._verified(headers, body)
        if event.get("event_type") != "message.received":
            raise WebhookRejected(f"not a message.received event: {event.get('event_type')}")
        payload = event.get("payload") or {}
        sender = (payload.get("from") or {}).get("phone_number", "")
        return Inbound(sender, payload.get("text") or "", str(payload.get("id", "")))

    def reply(self, text: str | None) -> tuple[bytes, str]:
        """Telnyx takes no answer in the webhook's response: an empty JSON object."""
        return b"{}", "application/json"

    def classify(self, code: str) -> ErrorClass:
        return classify_code(code, ACCOUNT_ERRORS, TRANSIENT_ERRORS, OPTED_OUT)

    def close(self) -> None:
        self.client.close()

    def _verified(self, headers: Mapping[str, str], body: bytes) -> dict:
        """The event (``data``) of a webhook whose Ed25519 signature verifies."""
        if self.verifier is None:
            raise WebhookRejected("set RENDERER_TELNYX_PUBLIC_KEY to verify Telnyx webhooks")
        stamp = headers.get("telnyx-timestamp", "")
        try:
            signature = base64.b64decode(headers.get("telnyx-signature-ed25519", ""), validate=True)
            self.verifier.verify(signature, stamp.encode() + b"|" + body)
            late = abs(time.time() - int(stamp))
        except (InvalidSignature, ValueError, binascii.Error):
            raise WebhookRejected("missing or wrong telnyx-signature-ed25519") from None
        if late > TOLERANCE:
            raise WebhookRejected(f"telnyx-timestamp is {late:.0f} s away from now (a replay?)")
        try:
            return json.loads(body)["data"]
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("a signed webhook that is not a Telnyx event") from None


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error):
        raise ValueError("RENDERER_TELNYX_PUBLIC_KEY must be a base64 Ed25519 key") from None


def _first_error(response: httpx.Response) -> dict:
    try:
        errors = response.json().get("errors") or [{}]
        return errors[0] if isinstance(errors[0], dict) else {}
    except (ValueError, AttributeError):
        return {}
