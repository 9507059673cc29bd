"""The audience CSV, streamed row by row: never loaded whole.

Columns: ``phone`` (any format phonenumbers can read; stored as E.164), the opt-in proof
``opt_in_at``, ``opt_in_source`` and ``opt_in_wording`` (all three required), optional
``timezone`` (IANA) and ``mms_capable`` (true/false, default true), and the merge fields.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

PROOF = ("opt_in_at", "opt_in_source", "opt_in_wording")
RESERVED = ("phone", *PROOF, "timezone", "mms_capable")


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row, as a spreadsheet shows it (header is row 1)
    phone: str | None  # E.164, or None when unreadable
    opted_in: bool
    timezone: str | None
    mms_capable: bool
    values: dict[str, str]  # the merge fields
    problem: str | None = None  # why the row cannot be sent, if it cannot


def rows(path: Path, default_region: str = "US") -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "phone" not in reader.fieldnames:
            raise ValueError(f"{path}: the audience needs a 'phone' column")
        for number, record in enumerate(reader, start=2):
            yield _row(number, record, default_region)


def _row(number: int, record: dict[str, str], region: str) -> Row:
    values = {k: (v or "").strip() for k, v in record.items() if k and k not in RESERVED}
    phone, problem = parse_phone(record.get("phone") or "", region)
    zone = (record.get("timezone") or "").strip() or None
    if zone and problem is None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem = f"unknown time zone {zone!r}"
    capable = (record.get("mms_capable") or "true").strip().lower() not in ("false", "0", "no")
    opted_in = all((record.get(column) or "").strip() for column in PROOF)
    return Row(number, phone, opted_in, zone, capable, values, problem)


def parse_phone(text: str, region: str) -> tuple[str | None, str | None]:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, f"unreadable phone number {text!r}"
    if not phonenumbers.is_valid_number(parsed):
        return None, f"not a valid phone number {text!r}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None
