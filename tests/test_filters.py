"""The filters marketers write, rendered through the real sandboxed environment."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from renderer.core.sandbox import environment

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def run(source: str, **values) -> str:
    return environment.from_string(source).render(now=NOW, **values)


@pytest.mark.parametrize(
    ("ends_at", "clock", "words"),
    [
        (datetime(2026, 11, 29, 14, 13, tzinfo=UTC), "2d 04:13", "Ends in 2 days"),
        (datetime(2026, 11, 27, 13, 30, tzinfo=UTC), "03:30", "Ends in 3 hours"),
        (datetime(2026, 11, 27, 11, 0, tzinfo=UTC), "01:00", "Ends in 1 hour"),
        (datetime(2026, 11, 27, 10, 12, 30, tzinfo=UTC), "00:12", "Ends in 12 minutes"),
        (datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC), "00:00", "Ends in under a minute"),
        (datetime(2026, 11, 27, 9, 0, tzinfo=UTC), "Offer ended", "Offer ended"),
    ],
)
def test_countdown(ends_at, clock, words):
    assert run("{{ t | countdown }}", t=ends_at) == clock
    assert run("{{ t | countdown('words') }}", t=ends_at) == words


def test_expired_state():
    source = "{% if t is past %}over{% else %}{{ t | countdown(expired='gone') }}{% endif %}"
    assert run(source, t=datetime(2026, 11, 27, 9, tzinfo=UTC)) == "over"
    assert run(source, t=datetime(2026, 11, 28, 9, tzinfo=UTC)) == "23:00"


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | money }}", Decimal("1234.5"), "$1,234.50"),
        ("{{ v | money(cents=False) }}", Decimal("20"), "$20"),
        ("{{ v | money(cents=False) }}", Decimal("20.5"), "$20.50"),
        ("{{ v | money('EUR') }}", Decimal("9.99"), "€9.99"),
        ("{{ v | money }}", Decimal("-5"), "-$5.00"),
        ("{{ v | upper }}", "ana", "ANA"),
        ("{{ v | title }}", "ana maría", "Ana María"),
    ],
)
def test_money_and_case(source, value, expected):
    assert run(source, v=value) == expected


def test_date_in_a_time_zone_across_dst():
    summer = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    source = "{{ v | date('%-I %p %Z', tz='America/New_York') }}"
    assert run(source, v=summer) == "12 PM EDT"
    assert run(source, v=winter) == "12 PM EST"


def test_unknown_time_zone_is_an_error():
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA time zone"):
        run("{{ v | date(tz='Mars/Olympus') }}", v=NOW)


def test_merge_values_are_xml_escaped():
    assert run("{{ v }}", v='<a href="x">&') == "&lt;a href=&#34;x&#34;&gt;&amp;"


def test_sandbox_blocks_python_internals():
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        run("{{ v.__class__.__mro__[1].__subclasses__() }}", v="x")
