"""Field values for load-test requests, made from the deployment's own field schemas.

Three sources: the manifests' ``sample`` and ``extreme`` values (alternated), random values
per field type (within each field's length, range and choices), or the rows of an audience
CSV (columns named like fields; the others, such as ``phone``, are ignored). A unique render
must be an image no cache holds, in this run or an earlier one, so its first text field ends
with a short tag made of a per-run token and a counter (``Ana ~k3f9a1``).
"""

import csv
import random
import secrets
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from renderer.core.errors import RendererError

SOURCES = ("samples", "random", "csv")
NAMES = (
    "Ana",
    "Zoë",
    "Łukasz",
    "Ольга",
    "Νίκος",
    "José",
    "Chloé",
    "Mateo",
    "Aaliyah",
    "Søren",
    "Bartholomew-Fitzgerald",
    "Émilie",
    "Dmitri",
    "Siobhán",
    "Kai",
    "Ngozi",
    "Björn",
    "Inés",
)
SURNAMES = ("Ng", "García", "Featherstonehaugh", "Kowalski", "Иванова", "O'Brien", "Nguyen")
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Honolulu",
    "America/Anchorage",
    "Europe/London",
)
DIGITS = string.digits + string.ascii_lowercase


class Values:
    """Values for one template: ``unique()`` never repeats (see the module's docstring),
    ``plain()`` is the next value set as the source gives it."""

    def __init__(
        self,
        template: dict[str, Any],
        source: str,
        rng: random.Random,
        rows: list[dict[str, str]] | None = None,
    ):
        self.name = template["name"]
        self.fields = {n: f for n, f in template["fields"].items() if not f.get("live")}
        self.source = source
        self.rng = rng
        self.rows = rows or []
        self.token = "".join(secrets.choice(DIGITS) for _ in range(4))  # not the seed's
        self.count = 0
        self.tag_field = next(
            (n for n, f in self.fields.items() if f["type"] == "text" and f["required"]),
            next((n for n, f in self.fields.items() if f["type"] == "text"), None),
        )
        if self.tag_field is None:
            raise RendererError(
                f"template {self.name!r} has no text field, so its renders cannot be made "
                "unique: leave it out of --template"
            )
        if source == "csv":
            self._check_columns()

    def plain(self) -> dict[str, str]:
        self.count += 1
        if self.source == "csv":
            row = self.rows[(self.count - 1) % len(self.rows)]
            base = {n: row[n] for n in self.fields if row.get(n, "").strip()}
            return self._fill_required(base)
        if self.source == "samples":
            which = "sample" if self.count % 2 else "extreme"
            chosen = {n: f.get(which) or f.get("sample") for n, f in self.fields.items()}
            return self._fill_required({n: v for n, v in chosen.items() if v is not None})
        return {n: random_value(f, self.rng) for n, f in self.fields.items()}

    def unique(self) -> dict[str, str]:
        """The next value set, tagged so no cache can already hold its image."""
        values = self.plain()
        tag = f" ~{self.token}{_base36(self.count)}"
        limit = self.fields[self.tag_field].get("max_length") or 40
        base = values.get(self.tag_field) or self.fields[self.tag_field].get("sample") or ""
        values[self.tag_field] = base[: max(0, limit - len(tag))].rstrip() + tag
        return values

    def _fill_required(self, values: dict[str, str]) -> dict[str, str]:
        for name, field in self.fields.items():
            if name not in values and field["required"]:
                values[name] = field.get("sample") or random_value(field, self.rng)
        return values

    def _check_columns(self) -> None:
        if not self.rows:
            raise RendererError("the audience CSV has no rows")
        if not set(self.rows[0]) & set(self.fields):
            raise RendererError(
                f"no column of the audience CSV names a field of {self.name!r} "
                f"(its fields: {', '.join(self.fields)})"
            )


def random_value(field: dict[str, Any], rng: random.Random) -> str:
    """A random value of ``field``'s type that its schema accepts."""
    kind = field["type"]
    limit = field.get("max_length") or 40
    if kind == "text":
        name = rng.choice(NAMES)
        if rng.random() < 0.3:
            name += " " + rng.choice(SURNAMES)
        return name[:limit]
    if kind == "enum":
        return rng.choice(field["choices"])
    if kind in ("int", "money"):
        low = Decimal(field["min"]) if field.get("min") is not None else Decimal(0)
        high = Decimal(field["max"]) if field.get("max") is not None else low + 9999
        if kind == "int":
            return str(rng.randint(int(low), int(high)))
        cents = rng.randint(int(low * 100), int(high * 100))
        return f"{Decimal(cents) / 100:.2f}"
    if kind == "datetime":
        moment = datetime.now(UTC) + timedelta(minutes=rng.randint(-30 * 1440, 30 * 1440))
        return moment.strftime("%Y-%m-%dT%H:%M:00Z")
    if kind == "sku":
        return f"LT-{rng.randint(0, 99999):05d}"[:limit]
    if kind == "qr":
        return f"https://example.com/r/{_base36(rng.getrandbits(40))}"[:limit]
    if kind == "timezone":
        return rng.choice(ZONES)
    if field.get("sample") is not None:  # a type newer than this client
        return field["sample"]
    raise RendererError(f"field type {kind!r} is unknown to the load tester and has no sample")


def read_audience(path: Path) -> list[dict[str, str]]:
    """The rows of an audience CSV, as dictionaries keyed by column name."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RendererError(f"{path}: cannot read the audience CSV: {exc}") from None


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = DIGITS[rest] + digits
        if not number:
            return digits
