"""Field schemas from a manifest, and the validation of values against them.

Values arrive as strings (URL query, CLI ``--set``, JSON); each field type turns its string
into the Python value the template sees, or says exactly what is wrong with it.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from renderer.core import live
from renderer.core.errors import FieldErrors, FieldProblem
from renderer.core.limits import DEFAULT_MAX_LENGTH, MAX_FIELD_LENGTH, MAX_NUMBER_TEXT
from renderer.core.text.fontset import fontset

TYPES = ("text", "int", "money", "datetime", "enum", "sku", "qr", "timezone")
TEXT_TYPES = ("text", "enum", "sku", "qr", "timezone")  # limited by max_length, not by digits
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
URL_PARAMETERS = ("at", "exp", "kid", "sig", "v")  # a signed image URL's own; v: the version
MISSING_GLYPHS = ("skip", "reject")
# Control characters (TAB and newline too: a field is one line), surrogates, private use,
# and the noncharacters XML refuses (U+FFFE, U+FFFF) or that mean nothing (U+FDD0..U+FDEF)
CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff"
    r"\U000f0000-\U0010ffff]"
)


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` names; ValueError for anything else (``America`` is a
    folder of the zone database, not a zone)."""
    if name not in _zone_names():
        raise ValueError(f"{name!r} is not an IANA time zone like America/New_York")
    return ZoneInfo(name)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    default: str | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    min: Decimal | None = None
    max: Decimal | None = None
    choices: tuple[str, ...] = ()
    sample: str | None = None
    extreme: str | None = None
    description: str = ""
    live: str | None = None  # a kind of live.KINDS: read from the live store at render time
    timezone: str | None = None  # datetime: the IANA zone of a time given without an offset
    timezone_field: str | None = None  # datetime: ... or the field that names that zone
    # text: a character no bundled font has is left out of the image and counted ("skip"),
    # or refuses the value ("reject": a 400 naming the field)
    missing_glyphs: str = "skip"

    @property
    def required(self) -> bool:
        return self.default is None and self.live is None

    def parse(self, raw: str) -> Any:
        """The typed value of ``raw``; ValueError with a message fit for the user if bad."""
        if not isinstance(raw, str):
            raw = str(raw)
        if CONTROL.search(raw):
            raise ValueError("contains control characters")
        text = raw.strip()
        limit = self.max_length if self.type in TEXT_TYPES else MAX_NUMBER_TEXT
        if len(text) > limit:
            raise ValueError(f"is {len(text)} characters long; at most {limit} allowed")
        return getattr(self, f"_parse_{self.type}")(text)

    def _parse_text(self, text: str) -> str:
        if self.missing_glyphs == "reject" and self.type == "text":
            uncovered = fontset().uncovered(text)
            if uncovered:
                shown = ", ".join(f"U+{ord(c):04X}" for c in uncovered[:5])
                raise ValueError(f"has characters no bundled font can draw ({shown})")
        return text

    _parse_qr = _parse_text  # the text a QR code encodes

    def _parse_timezone(self, text: str) -> str:
        zone(text)
        return text

    def _parse_enum(self, text: str) -> str:
        if text not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}; got {text!r}")
        return text

    def _parse_sku(self, text: str) -> str:
        if not live.SKU.fullmatch(text):
            raise ValueError(f"{text!r} is not a SKU (letters, digits, '.', '_', '-')")
        return text

    def _parse_int(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"must be a whole number; got {text!r}")
        return int(self._in_range(Decimal(text)))

    def _parse_money(self, text: str) -> Decimal:
        try:
            value = Decimal(text.replace(",", "").lstrip("$€£"))
        except InvalidOperation:
            raise ValueError(f"must be an amount like 19.99; got {text!r}") from None
        if not value.is_finite() or value.as_tuple().exponent < -2:
            raise ValueError(f"must be an amount with at most 2 decimals; got {text!r}")
        return self._in_range(value)

    def _parse_datetime(self, text: str) -> datetime:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"must be an ISO 8601 time like 2026-11-27T18:00:00-05:00; got {text!r}"
            ) from None
        return value  # a time without an offset gets its zone in validate()

    def _in_range(self, value: Decimal) -> Decimal:
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {self.min}; got {value}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {self.max}; got {value}")
        return value


def field_from_manifest(name: str, spec: Mapping[str, Any]) -> Field:
    """A Field from its ``[fields.NAME]`` table; ValueError naming the bad key."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"field {name!r} must be a table: [fields.{name}]")
    if not NAME.fullmatch(name):
        raise ValueError(f"field name {name!r} must be lowercase letters, digits and _")
    if name in URL_PARAMETERS:
        raise ValueError(
            f"field name {name!r} is taken by the signed image URL "
            f"({', '.join(URL_PARAMETERS)}); rename the field"
        )
    known = {
        "type",
        "default",
        "max_length",
        "min",
        "max",
        "choices",
        "sample",
        "extreme",
        "live",
        "timezone",
        "timezone_field",
        "missing_glyphs",
    }
    unknown = set(spec) - known - {"description"}
    if unknown:
        raise ValueError(f"field {name!r}: unknown keys {', '.join(sorted(unknown))}")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(f"field {name!r}: type must be one of {', '.join(TYPES)}; got {kind!r}")
    choices = tuple(str(c) for c in spec.get("choices", ()))
    if kind == "enum" and not choices:
        raise ValueError(f"field {name!r}: an enum needs choices")
    kind_of_live = spec.get("live")
    if kind_of_live is not None:
        if kind_of_live not in live.KINDS:
            raise ValueError(
                f"field {name!r}: live must be one of {', '.join(live.KINDS)}; got {kind_of_live!r}"
            )
        if kind != live.KINDS[kind_of_live].field_type:
            expected = live.KINDS[kind_of_live].field_type
            raise ValueError(f"field {name!r}: a live {kind_of_live} field has type {expected!r}")
    missing_glyphs = spec.get("missing_glyphs", "skip")
    if missing_glyphs not in MISSING_GLYPHS or (missing_glyphs != "skip" and kind != "text"):
        raise ValueError(f"field {name!r}: missing_glyphs is 'skip' or 'reject' (text fields)")
    field = Field(
        name=name,
        type=kind,
        default=None if spec.get("default") is None else str(spec["default"]),
        max_length=_max_length(name, spec.get("max_length", DEFAULT_MAX_LENGTH)),
        min=None if spec.get("min") is None else Decimal(str(spec["min"])),
        max=None if spec.get("max") is None else Decimal(str(spec["max"])),
        choices=choices,
        sample=None if spec.get("sample") is None else str(spec["sample"]),
        extreme=None if spec.get("extreme") is None else str(spec["extreme"]),
        description=str(spec.get("description", "")),
        live=spec.get("live"),
        timezone=spec.get("timezone"),
        timezone_field=spec.get("timezone_field"),
        missing_glyphs=missing_glyphs,
    )
    if field.timezone:
        field._parse_timezone(field.timezone)
    if field.required and field.sample is None:
        raise ValueError(f"field {name!r} is required, so it needs a sample value")
    for label in ("default", "sample", "extreme"):
        value = getattr(field, label)
        if value is not None:
            try:
                field.parse(value)
            except ValueError as exc:
                raise ValueError(f"field {name!r}: its {label} {exc}") from None
    return field


def _max_length(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_FIELD_LENGTH:
        raise ValueError(f"field {name!r}: max_length must be 1 to {MAX_FIELD_LENGTH}")
    return value


def validate(fields: Mapping[str, Field], raw: Mapping[str, str]) -> dict[str, Any]:
    """Typed values for every field, defaults filled in; FieldErrors lists every problem."""
    problems = [
        FieldProblem(name, f"unknown field; this template takes {', '.join(fields) or 'none'}")
        for name in raw
        if name not in fields
    ]
    values: dict[str, Any] = {}
    for name, field in fields.items():
        given = raw.get(name)
        if given is None or not str(given).strip():  # empty counts as not given
            if field.required:
                problems.append(FieldProblem(name, "is required"))
                continue
            if field.default is None:  # a live field: the store fills it in, or it stays None
                values[name] = None
                continue
            given = field.default
        try:
            values[name] = field.parse(given)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
    for name, field in fields.items():
        moment = values.get(name)
        if field.type == "datetime" and moment is not None and moment.tzinfo is None:
            where = values.get(field.timezone_field or "") or field.timezone or "UTC"
            try:
                values[name] = moment.replace(tzinfo=zone(str(where)))
            except ValueError as exc:
                problems.append(FieldProblem(field.timezone_field or name, str(exc)))
    if problems:
        raise FieldErrors(problems)
    return values


def example_values(fields: Mapping[str, Field], which: str) -> dict[str, str]:
    """Each field's ``sample`` value, or its ``extreme`` one (falling back to the sample)."""
    chosen = {}
    for name, field in fields.items():
        value = field.extreme if which == "extreme" and field.extreme is not None else field.sample
        if value is not None:
            chosen[name] = value
    return chosen
