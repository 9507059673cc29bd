"""Kinds of live value: numbers a feed sets and templates read at render time.

A manifest field with ``live = "stock"`` is not given by the URL: the service reads it from
its live store, keyed by the value of another field of the template (for stock, the
``sku``). Each kind says which field type it fills, which field keys it, how a key and a
value are checked, and who sets it (for error messages). Adding a kind is adding an entry to
``KINDS``; the manifest check, the store, the HTTP route (``/v1/live/{kind}/{key}``) and the
OpenAPI description all follow it.
"""

import re
from dataclasses import dataclass
from typing import Any

from renderer.core.limits import MAX_LIVE_VALUE


@dataclass(frozen=True)
class LiveKind:
    name: str
    field_type: str  # the type of the field it fills
    key_field: str  # the template field whose value names the item
    key_type: str  # ... and that field's type
    key_label: str  # how a person names it: "SKU"
    key_pattern: re.Pattern[str]
    source: str  # who sets it, for messages: "the stock feed"
    maximum: int = MAX_LIVE_VALUE

    def check_key(self, key: str) -> str:
        """The key itself if it names an item; ValueError saying what a key looks like."""
        if not self.key_pattern.fullmatch(key):
            raise ValueError(
                f"{key!r} is not a {self.key_label} (letters, digits, '.', '_', '-', up to 64)"
            )
        return key

    def check_value(self, body: Any) -> int:
        """The value of a ``{"count": N}`` body; ValueError saying what is wrong."""
        if not isinstance(body, dict) or set(body) != {"count"}:
            raise ValueError('the body must be {"count": N}')
        count = body["count"]
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValueError(f"count must be a whole number; got {count!r}")
        if not 0 <= count <= self.maximum:
            raise ValueError(f"count must be between 0 and {self.maximum:,}; got {count:,}")
        return count


SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

KINDS: dict[str, LiveKind] = {
    "stock": LiveKind(
        name="stock",
        field_type="int",
        key_field="sku",
        key_type="sku",
        key_label="SKU",
        key_pattern=SKU,
        source="the stock feed",
    ),
}
