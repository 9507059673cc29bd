"""What a campaign is: ``campaign.toml``, checked before anything is sent.

    id = "black-friday"
    template = "flash_sale"               # a template of the render service
    format = "jpg"
    body = "{{ first_name }}, 40% off today: https://shop.example.com/sale  Reply STOP to opt out"
    fallback_body = "{{ first_name }}, 40% off today: {{ image_link }}  Reply STOP to opt out"
    schedule = "now"                      # or an ISO 8601 start time
    qr_link = "https://shop.example.com/sale"   # a template field of type qr gets its tracked link
    provider = "telnyx"                   # optional; default: RENDERER_PROVIDER

    [[senders]]
    number = "+15005550006"               # or messaging_service_sid = "MG..."
    mps = 1

    [quiet_hours]                         # the recipient's local time
    start = "08:00"
    end = "21:00"

    [frequency_cap]                       # per recipient, across campaigns
    messages = 3
    hours = 24

    [utm]
    utm_source = "mms"
    utm_campaign = "black-friday"

    [[variants]]                          # optional; each may set body and template
    name = "A"
    weight = 50

The body is Jinja2 over the audience's columns; every link in it becomes a tracked link.
"""

import functools
import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from renderer.core.errors import RendererError

MAX_BODY = 1600
PREVIEW_CHARS = 30
LINK = re.compile(r"https?://[^\s<>\"']+")
ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# A template's description by name (as GET /v1/templates/{name} gives it); RendererError if
# there is none. The campaigns reach the render service only over HTTP.
TemplateLookup = Callable[[str], dict[str, Any]]

# Message bodies are plain text: no autoescape. Sandboxed, and a missing column is an error.
bodies = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class CampaignError(RendererError):
    code = "campaign_error"


@dataclass(frozen=True)
class Sender:
    number: str | None
    messaging_service_sid: str | None
    mps: float

    @property
    def key(self) -> str:
        return self.number or self.messaging_service_sid or ""


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    template: str
    body: str
    fallback_body: str


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    max_per_24h: int | None = None

    def open_at(self, local: datetime) -> bool:
        return self.start <= local.time() < self.end


@dataclass
class Campaign:
    id: str
    format: str
    variants: list[Variant]
    senders: list[Sender]
    quiet_hours: Window
    state_windows: dict[str, Window]
    cap_messages: int
    cap_hours: float
    utm: dict[str, str]
    schedule: datetime | None
    qr_link: str | None
    links: list[str] = field(default_factory=list)  # every link of every body, in order
    provider: str = ""  # twilio, telnyx or sandbox; "": the deployment's (RENDERER_PROVIDER)

    def variant_for(self, phone: str) -> Variant:
        """A stable hash of (campaign, phone) picks the variant, in proportion to the weights."""
        digest = hashlib.sha256(f"{self.id}\0{phone}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in self.variants)
        for variant in self.variants:
            point -= variant.weight
            if point < 0:
                return variant
        return self.variants[-1]

    def variant_named(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def sender_for(self, phone: str) -> Sender:
        """The same sender for a recipient every time (a conversation stays on one number)."""
        index = int(hashlib.sha256(phone.encode()).hexdigest(), 16) % len(self.senders)
        return self.senders[index]

    @property
    def mps(self) -> float:
        """Messages per second of all the campaign's senders together."""
        return sum(sender.mps for sender in self.senders)

    def to_dict(self) -> dict[str, Any]:
        """The definition workers on other machines load from Redis."""
        return {
            "id": self.id,
            "format": self.format,
            "variants": [vars(v) for v in self.variants],
            "senders": [vars(s) for s in self.senders],
            "quiet_hours": _window_dict(self.quiet_hours),
            "state_windows": {k: _window_dict(w) for k, w in self.state_windows.items()},
            "cap_messages": self.cap_messages,
            "cap_hours": self.cap_hours,
            "utm": self.utm,
            "schedule": self.schedule.isoformat() if self.schedule else None,
            "qr_link": self.qr_link,
            "links": self.links,
            "provider": self.provider,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Campaign":
        return cls(
            id=data["id"],
            format=data["format"],
            variants=[Variant(**v) for v in data["variants"]],
            senders=[Sender(**s) for s in data["senders"]],
            quiet_hours=_window(data["quiet_hours"]),
            state_windows={k: _window(w) for k, w in data["state_windows"].items()},
            cap_messages=data["cap_messages"],
            cap_hours=data["cap_hours"],
            utm=data["utm"],
            schedule=datetime.fromisoformat(data["schedule"]) if data["schedule"] else None,
            qr_link=data["qr_link"],
            links=data["links"],
            provider=data.get("provider", ""),
        )


DEFAULT_WINDOW = Window(time(8), time(21))
# Stricter state rules shipped as defaults (docs/campaigns.md has the table).
DEFAULT_STATE_WINDOWS = {
    "FL": Window(time(8), time(20), 3),
    "OK": Window(time(8), time(20), 3),
    "MD": Window(time(8), time(20), 3),
}
PROVIDERS = ("twilio", "telnyx", "sandbox")
KEYS = {
    "id",
    "provider",
    "template",
    "format",
    "body",
    "fallback_body",
    "schedule",
    "senders",
    "messaging_service_sid",
    "quiet_hours",
    "frequency_cap",
    "utm",
    "variants",
    "qr_link",
}


def load(path: Path, templates: TemplateLookup) -> Campaign:
    """Read and check ``campaign.toml``; CampaignError names what is wrong."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CampaignError(f"{path}: {exc}") from None
    return parse(data, templates)


def parse(data: dict[str, Any], templates: TemplateLookup) -> Campaign:
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise CampaignError(f"unknown key {unknown[0]!r} in the campaign")
    cid = str(data.get("id", ""))
    if not ID.match(cid):
        raise CampaignError("id must be lowercase letters, digits, '-' or '_' (up to 64)")
    template = str(data.get("template", ""))
    if "body" not in data:
        raise CampaignError("body is required")
    variants = _variants(data, template, templates)
    senders = _senders(data)
    hours = data.get("quiet_hours", {})
    if not isinstance(hours, dict):
        raise CampaignError('quiet_hours must be a table with start and end like "08:00"')
    quiet = _window({k: v for k, v in hours.items() if k != "states"}, DEFAULT_WINDOW)
    states = dict(DEFAULT_STATE_WINDOWS)
    for state, rule in dict(hours.get("states") or {}).items():
        states[state.upper()] = _window(rule, default=quiet, label=f"quiet_hours.states.{state}")
    cap = data.get("frequency_cap", {"messages": 3, "hours": 24})
    schedule = data.get("schedule", "now")
    try:
        start = None if schedule == "now" else _aware(datetime.fromisoformat(str(schedule)))
    except ValueError:
        raise CampaignError(
            f'schedule must be "now" or an ISO 8601 time; got {schedule!r}'
        ) from None
    campaign = Campaign(
        id=cid,
        format=str(data.get("format") or templates(variants[0].template)["format"]),
        variants=variants,
        senders=senders,
        quiet_hours=quiet,
        state_windows=states,
        cap_messages=int(cap.get("messages", 3)),
        cap_hours=float(cap.get("hours", 24)),
        utm={str(k): str(v) for k, v in data.get("utm", {}).items()},
        schedule=start,
        qr_link=data.get("qr_link"),
        provider=str(data.get("provider", "")),
    )
    if campaign.provider not in ("", *PROVIDERS):
        raise CampaignError(f"provider must be one of {', '.join(PROVIDERS)}")
    for variant in variants:
        for body in (variant.body, variant.fallback_body):
            for link in LINK.findall(body):
                if link not in campaign.links:
                    campaign.links.append(link)
    if campaign.qr_link and campaign.qr_link not in campaign.links:
        campaign.links.append(campaign.qr_link)
    return campaign


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    """A body compiled once per process: a campaign sends its few bodies to everyone."""
    return bodies.from_string(source)


def fill_body(source: str, values: dict[str, str], links: dict[str, str]) -> str:
    """The message text for one recipient, with its links replaced by tracked ones."""
    try:
        text = _compiled(source).render(**values)
    except TemplateError as exc:
        raise CampaignError(f"body: {exc}") from None
    text = LINK.sub(lambda m: links.get(m.group(0), m.group(0)), text)
    if len(text) > MAX_BODY:
        raise CampaignError(f"the message is {len(text):,} characters; at most {MAX_BODY:,}")
    return text


OFFER = re.compile(r"\d|%|\$|\b(off|free|sale|save|deal|new|today)\b", re.IGNORECASE)


def preview_warnings(campaign: Campaign) -> list[str]:
    """Lint: a phone shows the first 30 characters; the offer should be in them."""
    warnings = []
    for variant in campaign.variants:
        preview = re.sub(r"\{\{.*?\}\}", "", variant.body)[:PREVIEW_CHARS]
        if not OFFER.search(preview):
            warnings.append(
                f"variant {variant.name}: the first {PREVIEW_CHARS} characters "
                f"({preview.strip()!r}) do not show the offer (a number, %, $, off, sale...)"
            )
    return warnings


def _variants(data: dict[str, Any], template: str, templates: TemplateLookup) -> list[Variant]:
    specs = data.get("variants") or [{"name": "A", "weight": 1}]
    variants = []
    for spec in specs:
        variant = Variant(
            name=str(spec.get("name", "")) or f"V{len(variants) + 1}",
            weight=float(spec.get("weight", 1)),
            template=str(spec.get("template", template)),
            body=str(spec.get("body", data["body"])),
            fallback_body=str(spec.get("fallback_body", data.get("fallback_body", ""))),
        )
        if variant.weight <= 0:
            raise CampaignError(f"variant {variant.name}: weight must be positive")
        try:
            templates(variant.template)
        except RendererError as exc:
            raise CampaignError(f"variant {variant.name}: {exc}") from None
        for label, body in (("body", variant.body), ("fallback_body", variant.fallback_body)):
            if len(body) > MAX_BODY:
                raise CampaignError(
                    f"variant {variant.name}: {label} is {len(body):,} characters; "
                    f"at most {MAX_BODY:,}"
                )
            try:
                bodies.parse(body)
            except TemplateError as exc:
                raise CampaignError(f"variant {variant.name}: {label}: {exc}") from None
        if not variant.fallback_body:
            raise CampaignError("fallback_body is required (for recipients that cannot take MMS)")
        variants.append(variant)
    if len({v.name for v in variants}) != len(variants):
        raise CampaignError("variant names must differ")
    return variants


def _senders(data: dict[str, Any]) -> list[Sender]:
    specs = data.get("senders", [])
    if data.get("messaging_service_sid"):
        specs = [*specs, {"messaging_service_sid": data["messaging_service_sid"]}]
    if not specs:
        raise CampaignError("at least one sender is needed: [[senders]] number and mps")
    senders = []
    for spec in specs:
        number, service = spec.get("number"), spec.get("messaging_service_sid")
        if number is not None and not E164.match(str(number)):
            raise CampaignError(f"sender {number!r} is not an E.164 number like +15005550006")
        if not number and not service:
            raise CampaignError("a sender needs a number or a messaging_service_sid")
        mps = float(spec.get("mps", 1))
        if not 0 < mps <= 1000:
            raise CampaignError(f"sender {number or service}: mps must be between 0 and 1000")
        senders.append(Sender(number, service, mps))
    return senders


def _window(spec: Any, default: Window | None = None, label: str = "quiet_hours") -> Window:
    """A window from its table; a state rule's missing start or end is the campaign's."""
    if not isinstance(spec, dict):
        raise CampaignError(f'{label} must be a table with start and end like "08:00"')
    unknown = sorted(set(spec) - {"start", "end", "max_per_24h"})
    if unknown:
        raise CampaignError(f"unknown key {unknown[0]!r} in {label}")
    try:
        start = time.fromisoformat(str(spec["start"])) if "start" in spec else default.start
        end = time.fromisoformat(str(spec["end"])) if "end" in spec else default.end
        cap = spec.get("max_per_24h")
        cap = int(cap) if cap is not None else None
    except (AttributeError, ValueError, TypeError):
        raise CampaignError(f'{label} needs start and end like "08:00"') from None
    if start >= end:
        raise CampaignError(f"{label}: a quiet-hours window must start before it ends")
    if cap is not None and cap < 1:
        raise CampaignError(f"{label}: max_per_24h must be at least 1")
    return Window(start, end, cap)


def _window_dict(window: Window) -> dict[str, Any]:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "max_per_24h": window.max_per_24h,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
