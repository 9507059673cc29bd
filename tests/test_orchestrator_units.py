"""The orchestrator's rules on their own: campaigns, audiences, compliance, links."""

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from renderer.core.catalog import Catalog
from renderer.orchestrator import audience, compliance, links
from renderer.orchestrator.campaign import CampaignError, Window, fill_body, parse, preview_warnings
from renderer.settings import BUNDLED_TEMPLATES

CATALOG = Catalog(BUNDLED_TEMPLATES)
TEMPLATES = lambda name: CATALOG.get(name).summary()  # noqa: E731
BASE = {
    "id": "unit",
    "template": "flash_sale",
    "body": "{{ first_name }}, 40% off today https://shop.example.com/x",
    "fallback_body": "{{ first_name }}: {{ image_link }}",
    "senders": [{"number": "+15005550006", "mps": 2}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"template": "nope"}, "no template named 'nope'"),
        ({"body": "x" * 1601}, "body is 1,601 characters; at most 1,600"),
        ({"body": "{{ first_name"}, "body: unexpected end of template"),
        ({"fallback_body": ""}, "fallback_body is required"),
        ({"senders": [{"number": "5550006", "mps": 1}]}, "is not an E.164 number"),
        ({"senders": [{"number": "+15005550006", "mps": 0}]}, "mps must be between"),
        ({"senders": []}, "at least one sender"),
        ({"schedule": "soon"}, "schedule must be"),
        ({"id": "Bad Id"}, "id must be lowercase"),
        ({"colour": 1}, "unknown key 'colour'"),
        ({"variants": [{"name": "A", "weight": 0}]}, "weight must be positive"),
        ({"quiet_hours": {"start": "21:00", "end": "08:00"}}, "must start before it ends"),
    ],
)
def test_bad_campaigns_are_refused_before_anything_is_sent(change, message):
    with pytest.raises(CampaignError, match=message):
        parse({**BASE, **change}, TEMPLATES)


def test_body_filling_links_and_length():
    campaign = parse(BASE, TEMPLATES)
    assert campaign.links == ["https://shop.example.com/x"]
    text = fill_body(BASE["body"], {"first_name": "Ana"}, {campaign.links[0]: "https://t/c/1"})
    assert text == "Ana, 40% off today https://t/c/1"
    with pytest.raises(CampaignError, match="at most 1,600"):
        fill_body(BASE["body"], {"first_name": "A" * 1700}, {})
    with pytest.raises(CampaignError, match="'first_name' is undefined"):
        fill_body(BASE["body"], {}, {})


def test_preview_lint_warns_when_the_offer_is_late():
    late = parse({**BASE, "body": "Hello there dear valued customer, today 40% off"}, TEMPLATES)
    assert "do not show the offer" in preview_warnings(late)[0]
    assert preview_warnings(parse(BASE, TEMPLATES)) == []


def test_variants_are_stable_and_match_the_weights():
    campaign = parse(
        {**BASE, "variants": [{"name": "A", "weight": 70}, {"name": "B", "weight": 30}]}, TEMPLATES
    )
    phones = [f"+1212555{i:04d}" for i in range(10_000)]
    chosen = [campaign.variant_for(p).name for p in phones]
    assert chosen == [campaign.variant_for(p).name for p in phones], "stable"
    assert 0.68 < chosen.count("A") / len(chosen) < 0.72


def test_audience_rows(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text(
        "phone,opt_in_at,opt_in_source,opt_in_wording,timezone,mms_capable,first_name\n"
        "(212) 555-0123,2026-01-01,web,w1,,,Ana\n"
        "not a number,2026-01-01,web,w1,,,Bob\n"
        "+13055550123,,web,w1,,false,Chloé\n"
        "+14155550123,2026-01-01,web,w1,Mars/Base,,Dan\n"
    )
    rows = list(audience.rows(path))
    assert [r.number for r in rows] == [2, 3, 4, 5]
    assert rows[0].phone == "+12125550123" and rows[0].opted_in and rows[0].mms_capable
    assert rows[0].values == {"first_name": "Ana"}
    assert "unreadable phone number 'not a number'" in rows[1].problem
    assert not rows[2].opted_in and not rows[2].mms_capable
    assert "unknown time zone 'Mars/Base'" in rows[3].problem


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("STOP", "stop"),
        ("  stop ", "stop"),
        ("Unsubscribe", "unsubscribe"),
        ("optout", "stop"),
        ("StopAll", "stop"),
        ("start", "start"),
        ("UNSTOP", "start"),
        ("yes", "start"),
        ("help", "help"),
        ("stop please", None),
        ("", None),
    ],
)
def test_keywords(body, word):
    expected = "stop" if word == "unsubscribe" else word
    assert compliance.keyword(body) == expected


def test_states_and_zones_from_the_number():
    assert compliance.state("+13055550123") == "FL"
    assert compliance.state("+14055550123") == "OK"
    assert compliance.state("+14105550123") == "MD"
    assert compliance.state("+12125550123") == "NY"
    assert compliance.zones("+14155550123", None) == ["America/Los_Angeles"]
    assert compliance.zones("+14155550123", "Europe/Paris") == ["Europe/Paris"]
    assert len(compliance.zones("+18005550123", None)) > 10  # toll-free: every US zone


def test_state_rules_are_stricter():
    campaign = parse(BASE, TEMPLATES)
    florida = compliance.window_for(campaign, "+13055550123")
    assert (florida.start, florida.end, florida.max_per_24h) == (time(8), time(20), 3)
    assert compliance.window_for(campaign, "+12125550123").end == time(21)


def test_quiet_hours_defer_to_the_next_opening():
    window = Window(time(8), time(21))
    ny = ["America/New_York"]
    assert compliance.next_opening(window, ny, datetime(2026, 11, 27, 15, tzinfo=UTC)) is None
    late = datetime(2026, 11, 28, 3, tzinfo=UTC)  # 22:00 in New York
    assert compliance.next_opening(window, ny, late) == datetime(2026, 11, 28, 13, tzinfo=UTC)
    both = ["America/New_York", "America/Los_Angeles"]  # open in both from 08:00 LA
    opening = compliance.next_opening(window, both, datetime(2026, 11, 27, 13, tzinfo=UTC))
    assert opening == datetime(2026, 11, 27, 16, tzinfo=UTC)


def test_quiet_hours_across_the_dst_change():
    """New York leaves daylight time on 2026-11-01: 08:00 local is 12:00Z before, 13:00Z after."""
    window = Window(time(8), time(21))
    saturday_night = datetime(2026, 11, 1, 3, tzinfo=UTC)  # 23:00 EDT on Oct 31
    opening = compliance.next_opening(window, ["America/New_York"], saturday_night)
    assert opening == datetime(2026, 11, 1, 13, tzinfo=UTC)


def test_link_codes_are_signed_and_carry_no_personal_data():
    code = links.link_code(b"k" * 32, "black-friday", "B", 2)
    assert links.read_code(b"k" * 32, code) == ("black-friday", "B", 2)
    assert links.read_code(b"x" * 32, code) is None
    assert links.read_code(b"k" * 32, code[:-1] + ("A" if code[-1] != "A" else "B")) is None
    assert "+1" not in code
    assert links.with_utm("https://s.example/x?a=1&utm_source=old", {"utm_source": "mms"}) == (
        "https://s.example/x?a=1&utm_source=mms"
    )


def test_phone_keys_are_keyed():
    assert compliance.phone_key(b"a", "+12125550123") != compliance.phone_key(b"b", "+12125550123")
    assert "2125550123" not in compliance.phone_key(b"a", "+12125550123")
