"""A test MMS from the studio: one real message, to a number typed on the page, through the
configured provider, under the same rules as a campaign's.

It is a real message, so before the provider is called: the person typing attests that the
number's owner agreed to receive it (the opt-in; kept with who sent it), a number that said
STOP gets nothing (the suppression list every campaign reads), and quiet hours hold in every
time zone of the number (08:00-21:00, stricter in the states with their own rule), with the
clock read then. The frequency cap is a campaign's budget of a person's attention; a test
message is not counted against it. The image is a signed URL of this service (``/i/``),
fetched by the provider as a carrier would. Its delivery receipts come back through the
status webhook (``receipts.py``) and are kept a week with the message, for the page to show.
"""

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import redis

from renderer.core.errors import RendererError
from renderer.orchestrator import compliance, keyring, keys, receipts
from renderer.orchestrator.campaign import DEFAULT_STATE_WINDOWS, DEFAULT_WINDOW
from renderer.orchestrator.providers.base import Accepted, Provider

MAX_BODY = 1600
DEFAULT_BODY = "Test message from the mms-renderer studio. Reply STOP to opt out."


class TestSendRefused(RendererError):
    code = "bad_request"


class ConsentRequired(RendererError):
    code = "consent_required"


class Suppressed(RendererError):
    code = "suppressed"
    status = 409


class QuietHours(RendererError):
    code = "quiet_hours"
    status = 409


@dataclass(frozen=True)
class Request:
    phone: str  # E.164
    media_url: str
    body: str


def read(body: Any, public_url: str) -> Request:
    """The checked request: a number, the consent, a signed image URL of this service."""
    if not isinstance(body, dict):
        raise TestSendRefused("the body must be a JSON object")
    unknown = set(body) - {"to", "media_url", "body", "consent"}
    if unknown:
        raise TestSendRefused(f"unknown key {sorted(unknown)[0]!r}")
    if body.get("consent") is not True:
        raise ConsentRequired(
            "consent must be true: confirm that the number's owner agreed to receive test "
            "messages from you"
        )
    media_url = body.get("media_url")
    if not isinstance(media_url, str) or not media_url.startswith(f"{public_url}/i/"):
        raise TestSendRefused(f"media_url must be a signed image URL of {public_url}/i/")
    text = body.get("body") or DEFAULT_BODY
    if not isinstance(text, str) or len(text) > MAX_BODY:
        raise TestSendRefused(f"body must be text of at most {MAX_BODY:,} characters")
    return Request(_phone(body.get("to")), media_url, text)


def _phone(value: Any) -> str:
    try:
        parsed = phonenumbers.parse(str(value or ""), "US")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise TestSendRefused(
            f"{str(value)[:40]!r} is not a phone number; write it with its country code, "
            "e.g. +1 212 555 0123"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check(client: redis.Redis, privacy_key: str, phone: str, now: datetime) -> str:
    """The number's keyed hash, if the rules let a message go to it now; Suppressed or
    QuietHours if not."""
    key = compliance.phone_key(keyring.privacy_key(client, privacy_key), phone)
    if client.sismember(keys.SUPPRESSED, key):
        raise Suppressed(
            "this number replied STOP: it gets no messages, test ones included, until it "
            "replies START"
        )
    window = compliance.window_of(DEFAULT_WINDOW, DEFAULT_STATE_WINDOWS, phone)
    zones = compliance.zones(phone, None)
    opening = compliance.next_opening(window, zones, now)
    if opening is not None:
        zone = next(z for z in zones if not window.open_at(now.astimezone(ZoneInfo(z))))
        local = now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        raise QuietHours(
            f"quiet hours: it is {local} in {zone}; messages to this number, test ones "
            f"too, go between {window.start:%H:%M} and {window.end:%H:%M} its time, from "
            f"{opening.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
    return key


def record(
    client: redis.Redis, accepted: Accepted, request: Request, key: str, who: str, provider: str
) -> dict[str, Any]:
    """Keep the message for the page, and take its delivery receipts (also any that came
    before this)."""
    fields = {
        "sid": accepted.sid,
        "to": mask(request.phone),
        "provider": provider,
        "provider_status": accepted.status,
        "state": "accepted",
        "error": "",
        "sent_at": time.time(),
        "sent_by": who,
        "consent": "attested by the sender",
        "media_url": request.media_url,
    }
    client.hset(keys.test_send(accepted.sid), mapping=fields)
    client.expire(keys.test_send(accepted.sid), receipts.TEST_SECONDS)
    return fields


def show(client: redis.Redis, sid: str) -> dict[str, Any] | None:
    """A test message as the page shows it: its state and every receipt so far."""
    found = client.hgetall(keys.test_send(sid))
    if not found:
        return None
    listed = [json.loads(r) for r in client.lrange(keys.test_send_receipts(sid), 0, -1)]
    return {**found, "sent_at": float(found["sent_at"]), "receipts": listed}


def mask(phone: str) -> str:
    """A number as the page and the record show it: its last four digits."""
    return "…" + phone[-4:]


def send(provider: Provider, sender: str, request: Request, status_callback: str) -> Accepted:
    """One provider call (Refused, Unreachable or Ambiguous if not accepted)."""
    service = sender if sender.startswith("MG") else None
    return provider.send(
        request.phone,
        None if service else sender,
        service,
        request.body,
        request.media_url,
        status_callback,
    )
