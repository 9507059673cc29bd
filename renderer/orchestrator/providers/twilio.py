"""Twilio's Messages API (and any provider that speaks it), as a ``Provider``.

A send is one request: the worker retries, through the compliance gate, so that a STOP that
arrives between two tries is honoured. An error answer is ``Refused`` with Twilio's error code
(or the HTTP status when the body has none), and ``classify`` says what the code means (the
table below, from Twilio's error dictionary). A connection that never reached Twilio is
``Unreachable`` (safe to retry); one that broke after the request was sent is ``Ambiguous``
(the worker looks the message up instead). Webhooks are verified with Twilio's published
algorithm (its RequestValidator), over the full URL Twilio called, query string included.
"""

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

import httpx
from twilio.request_validator import RequestValidator

from renderer.orchestrator.providers.base import (
    Accepted,
    ErrorClass,
    Inbound,
    Refused,
    StatusUpdate,
    WebhookRejected,
    classify_code,
    request,
    retry_after,
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
# Error codes that mean the account or the setup is wrong: nothing will go out until a person
# fixes it. Authentication (20003, HTTP 401/403), an inactive or suspended account (20005,
# 30002), a wrong account SID or base URL (20404, HTTP 404), a sender the account cannot use
# (21212, 21603, 21606, 21659, 21660), media URLs Twilio cannot use (21620), a messaging
# service that is wrong (21701-21712), unregistered or unverified senders (30032, 30034), and
# a base URL that is not http(s) at all ("config").
ACCOUNT_ERRORS = {
    "20003", "20005", "20008", "20404", "21212", "21603", "21606", "21620", "21659", "21660",
    "21701", "21702", "21703", "21704", "21705", "21706", "21707", "21708", "21709", "21710",
    "21711", "21712", "30002", "30032", "30034", "401", "403", "404", "config",
}  # fmt: skip
# Rate limits (20429, 14107, the queue 30001, 10DLC throughput 30022) and Twilio's own trouble
# (20500, 20503, HTTP 5xx): try again later.
TRANSIENT_ERRORS = {"20429", "429", "14107", "20500", "20503", "30001", "30022"}
OPTED_OUT = "21610"  # the recipient replied STOP to this sender at Twilio


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = DEFAULT_BASE_URL,
        connections: int = 32,
    ):
        """``connections``: kept-alive connections to the provider, one per send the worker
        has in flight (a new TLS handshake per message would cost more than the call)."""
        self.account_sid = account_sid
        self.messages = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages"
        self.client = httpx.Client(
            auth=(account_sid, auth_token),
            timeout=30,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self.validator = RequestValidator(auth_token)
        self.base_url = base_url

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
        response = request(
            self.client.post, f"{self.messages}.json", data=form, base_url=self.base_url
        )
        if response.status_code < 300:
            data = response.json()
            return Accepted(data["sid"], data.get("status", "queued"))
        data = _json(response)
        raise Refused(
            str(data.get("code") or response.status_code),
            str(data.get("message") or response.reason_phrase or response.text[:200]),
            retry_after(response.headers.get("retry-after")),
        )

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
        return classify_code(code, ACCOUNT_ERRORS, TRANSIENT_ERRORS, OPTED_OUT)

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
