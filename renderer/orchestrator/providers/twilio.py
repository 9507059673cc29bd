"""Twilio's Messages API (and any provider that speaks it), as a ``Provider``.

429 and 5xx are retried with exponential backoff and full jitter (and, past the last retry,
the send waits and is tried again later: nothing was sent); another 4xx is a permanent
failure with the provider's error code. A transport error after the request may have reached
the provider is not retried: it is ambiguous, and the worker looks the message up instead.
Webhooks are verified with Twilio's published algorithm (its RequestValidator).
"""

import random
import time
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

import httpx
from twilio.request_validator import RequestValidator

from renderer.orchestrator.providers.base import (
    Accepted,
    Ambiguous,
    ErrorClass,
    Inbound,
    PermanentFailure,
    ProviderBusy,
    StatusUpdate,
    WebhookRejected,
)

DEFAULT_BASE_URL = "https://api.twilio.com"
# Twilio's MessageStatus values -> our lifecycle (None: a step we do not track)
STATES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
ACCOUNT_ERRORS = {"20003", "20005", "20008", "21606", "21608", "21212", "21659", "30002"}


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = DEFAULT_BASE_URL,
        attempts: int = 8,
        backoff: float = 0.2,
    ):
        self.account_sid = account_sid
        self.messages = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages"
        self.client = httpx.Client(auth=(account_sid, auth_token), timeout=30)
        self.validator = RequestValidator(auth_token)
        self.attempts, self.backoff = attempts, backoff

    def send(
        self,
        to: str,
        sender: str | None,
        service: str | None,
        body: str,
        media_url: str | None,
        status_callback: str,
    ) -> Accepted:
        form = {"To": to, "Body": body, "StatusCallback": status_callback}
        form.update({"From": sender} if sender else {"MessagingServiceSid": service})
        if media_url:
            form["MediaUrl"] = media_url
        for attempt in range(self.attempts):
            try:
                response = self.client.post(f"{self.messages}.json", data=form)
            except httpx.ConnectError:  # never reached the provider: safe to retry
                response = None
            except httpx.TransportError as exc:
                raise Ambiguous(f"{type(exc).__name__} after sending the request") from None
            if response is not None and response.status_code < 300:
                data = response.json()
                return Accepted(data["sid"], data.get("status", "queued"))
            if response is not None and response.status_code != 429 and response.status_code < 500:
                data = _json(response)
                raise PermanentFailure(
                    str(data.get("code", response.status_code)),
                    str(data.get("message", response.text[:200])),
                )
            time.sleep(random.uniform(0, self.backoff * 2**attempt))
        raise ProviderBusy(f"still busy after {self.attempts} tries")

    def find(self, to: str, sender: str | None, since: datetime, body: str) -> str | None:
        """The sid of a message already created for this recipient with this body, if any."""
        params = {"To": to, "DateSent>": since.date().isoformat()}
        if sender:
            params["From"] = sender
        response = self.client.get(f"{self.messages}.json", params=params)
        response.raise_for_status()
        for message in response.json().get("messages", []):
            if message.get("body") == body:
                return message["sid"]
        return None

    def status_update(self, url: str, headers: Mapping[str, str], body: bytes) -> StatusUpdate:
        form = self._verified(url, headers, body)
        return StatusUpdate(
            sid=form.get("MessageSid", ""),
            state=STATES.get(form.get("MessageStatus", "")),
            error_code=form.get("ErrorCode") or None,
        )

    def inbound(self, url: str, headers: Mapping[str, str], body: bytes) -> Inbound:
        form = self._verified(url, headers, body)
        return Inbound(form.get("From", ""), form.get("Body", ""), form.get("MessageSid", ""))

    def reply(self, text: str | None) -> tuple[bytes, str]:
        """TwiML: ``<Message>`` with the text, or an empty ``<Response>``."""
        message = f"<Message>{xml_escape(text)}</Message>" if text else ""
        document = f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>'
        return document.encode(), "application/xml"

    def classify(self, code: str) -> ErrorClass:
        if code in ACCOUNT_ERRORS or code in ("401", "403"):
            return "account"
        if code == "429" or (code.startswith("5") and len(code) == 3):
            return "transient"
        return "recipient"

    def close(self) -> None:
        self.client.close()

    def _verified(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        signature = headers.get("x-twilio-signature", "")
        if not self.validator.validate(url, form, signature):
            raise WebhookRejected("missing or wrong X-Twilio-Signature")
        return form


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}
