"""What the campaigns need of a message provider, whoever it is.

The worker sends and, after a crash, looks a message up; the webhooks verify and read what
the provider posts back (delivery receipts, replies) and answer a reply. Nothing outside
``providers/`` knows a provider's wire format, status names or error codes: they arrive here
as ``Accepted``, ``StatusUpdate``, ``Inbound`` and the exceptions below, and ``classify``
says what an error code means for the campaign.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import httpx

# Our lifecycle after the provider accepted a message (ledger.py); receipts move it forward.
DeliveryState = Literal["sent", "delivered", "failed"]
# What an error code means for the campaign (``Provider.classify``):
#   account    the account or the setup is wrong (credentials, sender, media URLs): pause the
#              whole campaign, say why, leave every recipient pending
#   recipient  this recipient cannot be reached (invalid number, landline, carrier filtering,
#              media the handset refused): fail them, with the code
#   opted_out  this recipient opted out at the provider: fail them and suppress the number
#   transient  rate limited, the provider's own trouble, unreachable: try again, backing off
ErrorClass = Literal["account", "recipient", "opted_out", "transient"]


class ProviderError(Exception):
    """Base of what a provider call can end in, other than success."""


class Refused(ProviderError):
    """The provider answered, and did not accept the message: its error ``code`` (or the
    HTTP status when it gave none), its message, and how long it asked us to wait."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        self.code, self.message, self.retry_after = code, message, retry_after
        super().__init__(f"{code}: {message}")


class Unreachable(ProviderError):
    """The request never reached the provider (connection refused, no route, connect
    timeout): nothing was sent, so trying again is safe."""


class Ambiguous(ProviderError):
    """The request may or may not have been accepted (the connection dropped after it was
    sent): the worker looks the message up rather than sending it again."""


class WebhookRejected(ProviderError):
    """A webhook whose signature does not verify, or that is not what it claims to be."""


@dataclass(frozen=True)
class Accepted:
    sid: str  # the provider's message id
    status: str


@dataclass(frozen=True)
class StatusUpdate:
    sid: str
    state: DeliveryState | None  # None: a step we do not track (queued, sending)
    error_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    phone: str  # the sender of the reply, E.164
    body: str
    message_id: str = ""


class Provider(Protocol):
    name: str

    def send(
        self,
        to: str,
        sender: str | None,
        service: str | None,
        body: str,
        media_url: str | None,
        status_callback: str,
    ) -> Accepted:
        """Create one message, in one attempt (the worker retries, through the gate);
        Refused, Unreachable or Ambiguous if it was not created."""

    def find(self, to: str, sender: str | None, since: datetime, body: str) -> str | None:
        """The id of a message already created for ``to`` with ``body`` since ``since``."""

    def status_update(self, url: str, headers: Mapping[str, str], body: bytes) -> StatusUpdate:
        """A delivery receipt, verified; WebhookRejected if its signature is wrong."""

    def inbound(self, url: str, headers: Mapping[str, str], body: bytes) -> Inbound:
        """A reply, verified; WebhookRejected if its signature is wrong."""

    def reply(self, text: str | None) -> tuple[bytes, str]:
        """The answer to an inbound webhook that sends ``text`` back (none if None), and its
        media type."""

    def classify(self, code: str) -> ErrorClass:
        """What one of the provider's error codes (from ``Refused`` or a delivery receipt)
        means for the campaign."""

    def close(self) -> None: ...


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is rare from APIs: ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def request(call: Callable[..., httpx.Response], url: str, base_url: str, **kw) -> httpx.Response:
    """One HTTP request to a provider, its transport failures said in the protocol's terms:
    never reached it (Unreachable: safe to retry), a base URL that is not one (Refused
    "config"), or broken after the request was sent (Ambiguous: look the message up)."""
    try:
        return call(url, **kw)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        why = str(exc) or type(exc).__name__
        raise Unreachable(f"cannot reach {base_url}: {why}") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise Refused("config", f"the provider's base URL {base_url!r}: {exc}") from None
    except httpx.TransportError as exc:
        raise Ambiguous(f"{type(exc).__name__} after sending the request") from None


def classify_code(code: str, account: set[str], transient: set[str], opted_out: str) -> ErrorClass:
    """An error code in a provider's tables; any HTTP 5xx is transient, anything not listed
    is the recipient's."""
    if code in account:
        return "account"
    if code in transient or (code.startswith("5") and len(code) == 3):
        return "transient"
    return "opted_out" if code == opted_out else "recipient"
