"""Twilio's Messages API, as a client: send, and look a message up after a crash.

429 and 5xx are retried with exponential backoff and full jitter (and, past the last retry,
the send waits and is tried again later: nothing was sent); another 4xx is a permanent
failure with the provider's error code. A transport error after the request may have reached
the provider is not retried: it is ambiguous, and the worker looks the message up instead.
"""

import random
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

DEFAULT_BASE_URL = "https://api.twilio.com"


class PermanentFailure(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


class Ambiguous(Exception):
    """The request may or may not have been accepted."""


class ProviderBusy(Exception):
    """Still 429 or 5xx after every retry: nothing was sent; try again later."""


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str


class TwilioProvider:
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

    def close(self) -> None:
        self.client.close()


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}
