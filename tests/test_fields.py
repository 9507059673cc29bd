"""Values checked against the manifest: every error names its field and says what is wrong."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from renderer.core.errors import FieldErrors
from renderer.core.fields import field_from_manifest, validate

FIELDS = {
    "first_name": field_from_manifest(
        "first_name", {"type": "text", "max_length": 10, "sample": "Ana"}
    ),
    "stock": field_from_manifest("stock", {"type": "int", "min": 0, "max": 999, "default": "5"}),
    "price": field_from_manifest("price", {"type": "money", "min": 0, "default": "9.99"}),
    "ends_at": field_from_manifest(
        "ends_at", {"type": "datetime", "default": "2026-12-01T00:00:00Z"}
    ),
    "tier": field_from_manifest(
        "tier", {"type": "enum", "choices": ["Gold", "Silver"], "default": "Gold"}
    ),
    "sku": field_from_manifest("sku", {"type": "sku", "default": "SKU-1"}),
}


def problems(raw: dict[str, str]) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        validate(FIELDS, raw)
    return {p.field: p.message for p in caught.value.problems}


def test_typed_values_and_defaults():
    values = validate(FIELDS, {"first_name": " Ana ", "stock": "47", "price": "$1,299.5"})
    assert values == {
        "first_name": "Ana",
        "stock": 47,
        "price": Decimal("1299.5"),
        "ends_at": datetime(2026, 12, 1, tzinfo=UTC),
        "tier": "Gold",
        "sku": "SKU-1",
    }


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({}, "first_name", "is required"),
        ({"first_name": "   "}, "first_name", "is required"),
        ({"first_name": "Bartholomew"}, "first_name", "is 11 characters long; at most 10 allowed"),
        ({"first_name": "A\x00na"}, "first_name", "contains control characters"),
        ({"stock": "lots"}, "stock", "must be a whole number; got 'lots'"),
        ({"stock": "4.5"}, "stock", "must be a whole number"),
        ({"stock": "-1"}, "stock", "must be at least 0; got -1"),
        ({"stock": "1000"}, "stock", "must be at most 999; got 1000"),
        ({"stock": "9" * 5000}, "stock", "at most 32 allowed"),
        ({"price": "cheap"}, "price", "must be an amount like 19.99"),
        ({"price": "1.999"}, "price", "at most 2 decimals"),
        ({"price": "NaN"}, "price", "at most 2 decimals"),
        ({"ends_at": "tomorrow"}, "ends_at", "must be an ISO 8601 time"),
        ({"tier": "Bronze"}, "tier", "must be one of Gold, Silver; got 'Bronze'"),
        ({"sku": "../etc"}, "sku", "is not a SKU"),
        ({"colour": "red"}, "colour", "unknown field; this template takes first_name, stock"),
    ],
)
def test_each_bad_value_is_named(raw, field, message):
    found = problems({"first_name": "Ana", **raw} if field != "first_name" else raw)
    assert message in found[field]


def test_all_problems_are_reported_together():
    found = problems({"stock": "x", "tier": "Bronze", "nope": "1"})
    assert set(found) == {"first_name", "stock", "tier", "nope"}


def test_naive_datetime_is_utc():
    values = validate(FIELDS, {"first_name": "Ana", "ends_at": "2026-12-01T08:00:00"})
    assert values["ends_at"] == datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "colour"}, "type must be one of text, int"),
        ({"type": "enum", "default": "a"}, "an enum needs choices"),
        ({"type": "int", "default": "x"}, "its default must be a whole number"),
        ({"type": "text", "sample": "x", "lenght": 3}, "unknown keys lenght"),
        ({"type": "text"}, "is required, so it needs a sample value"),
    ],
)
def test_bad_field_declarations(spec, message):
    with pytest.raises(ValueError, match=message):
        field_from_manifest("f", spec)


@pytest.mark.parametrize("name", ["at", "exp", "kid", "sig", "v"])
def test_a_field_cannot_take_a_signed_urls_parameter(name):
    with pytest.raises(ValueError, match=f"field name '{name}' is taken by the signed image URL"):
        field_from_manifest(name, {"type": "text", "sample": "x"})
