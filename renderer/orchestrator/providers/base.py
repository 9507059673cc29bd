"""What the campaigns need of a message provider, whoever it is.

The worker sends and, after a crash, looks a message up; the webhooks verify and read what
the provider posts back (delivery receipts, replies) and answer a reply. Nothing outside
``providers/`` knows a provider's wire format, status names or error codes: they arrive here
as ``Accepted``, ``StatusUpdate``, ``Inbound`` and the exceptions below.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

# Our lifecycle after the provider accepted a message (ledger.py); receipts move it forward.
DeliveryState = Literal["sent", "delivered", "failed"]
# What an error code means for the campaign: the whole account is wrong (stop and say so),
# this recipient cannot be reached (fail them), or try again later.
ErrorClass = Literal["account", "recipient", "transient"]


class ProviderError(Exception):
    """Base of what a provider call can end in, other than success."""


class PermanentFailure(ProviderError):
    """The provider refused this message for good, with its error code."""

    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


class Ambiguous(ProviderError):
    """The request may or may not have been accepted."""


class ProviderBusy(ProviderError):
    """Still rate-limited or failing after every retry: nothing was sent; try again later."""


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
        """Create one message; PermanentFailure, Ambiguous or ProviderBusy if not."""

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
        """What one of the provider's error codes means for the campaign."""

    def close(self) -> None: ...
