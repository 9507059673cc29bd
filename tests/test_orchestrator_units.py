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
        ({"provider": "bandwidth"}, "provider must be one of twilio, telnyx, sandbox"),
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


def test_states_and_zones_from_the_number():
    assert compliance.state("+13055550123") == "FL"
    assert compliance.state("+14055550123") == "OK"
    assert compliance.state("+14105550123") == "MD"
    assert compliance.state("+12125550123") == "NY"
    assert compliance.zones("+14155550123", None) == ["America/Los_Angeles"]
    assert compliance.zones("+14155550123", "Europe/Paris") == ["Europe/Paris"]
    assert len(compliance.zones("+18005550123", None)) > 10  # toll-free: every US zone


# The 50 states and DC, as the census names them: the fact the geocoder's descriptions are
# checked against.
STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming",
}  # fmt: skip
ALSO_CALLED = {"Washington State": "WA", "Washington D.C.": "DC"}  # as the geocoder says


def test_every_us_area_code_maps_to_its_state():
    """Every US prefix phonenumbers' geocoder knows, described by a state's name or code
    ("Seattle, WA", "Washington State", "Washington D.C."), maps to that state; all 50 states
    and DC are reached; Canada and the territories are not states."""
    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA

    reached, checked = set(), 0
    for prefix, names in GEOCODE_DATA.items():
        if not prefix.startswith("1") or len(prefix) < 4 or "en" not in names:
            continue
        number = "+" + prefix.ljust(11, "5")
        parsed = phonenumbers.parse(number)
        if phonenumbers.region_code_for_number(parsed) != "US" or not names["en"]:
            continue
        described = names["en"]
        place, _, tail = described.rpartition(", ")
        by_name = {name: code for code, name in STATE_NAMES.items()} | ALSO_CALLED
        expected = tail if place else by_name[described]
        assert compliance.state(number) == expected, (number, described)
        reached.add(expected)
        checked += 1
    assert reached == set(STATE_NAMES) and checked > 20_000
    assert compliance.state("+14165550123") is None, "Toronto is not a state"
    assert compliance.state("+17875550123") is None, "nor is Puerto Rico"


def test_a_state_rule_without_hours_takes_the_campaign_window():
    campaign = parse({**BASE, "quiet_hours": {"states": {"wa": {"max_per_24h": 2}}}}, TEMPLATES)
    assert campaign.state_windows["WA"] == Window(time(8), time(21), 2)
    seattle = compliance.window_for(campaign, "+12065550123")
    assert (seattle.start, seattle.end, seattle.max_per_24h) == (time(8), time(21), 2)
    later = parse(
        {**BASE, "quiet_hours": {"start": "10:00", "end": "20:00", "states": {"TX": {}}}}, TEMPLATES
    )
    assert later.state_windows["TX"] == Window(time(10), time(20))
    for bad, message in [
        ({"states": {"WA": {"start": "soon"}}}, "quiet_hours.states.WA needs start and end"),
        ({"states": {"WA": 3}}, "quiet_hours.states.WA must be a table"),
        ({"states": {"WA": {"max_per_24h": 0}}}, "max_per_24h must be at least 1"),
        ({"start": "08:00", "end": "21:00", "colour": 1}, "unknown key 'colour' in quiet_hours"),
    ]:
        with pytest.raises(CampaignError, match=message):
            parse({**BASE, "quiet_hours": bad}, TEMPLATES)


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


def test_the_frequency_cap_reserves_its_slots_atomically(redis_server):
    """Twenty concurrent attempts (two campaigns, many workers) on one recipient with a cap
    of 3: exactly three may send; the others are deferred until the oldest ages out; a
    suppressed recipient takes no slot."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    import redis

    from renderer.orchestrator import keys
    from renderer.orchestrator.gate import Gate

    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    gate = Gate(client)
    campaigns = [parse({**BASE, "id": name}, TEMPLATES) for name in ("one", "two")]
    record = {"phone": "+12125550123"}
    start = datetime(2026, 11, 27, 15, tzinfo=UTC)

    def attempt(i: int):
        return gate.reserve(campaigns[i % 2], "k", record, start + timedelta(seconds=i), f"m{i}")

    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(attempt, range(20)))
    sent = [v for v in verdicts if v.action == "send"]
    assert len(sent) == 3 and client.zcard(keys.frequency("k")) == 3
    oldest = min(
        float(score) for _, score in client.zrange(keys.frequency("k"), 0, -1, withscores=True)
    )
    first = datetime.fromtimestamp(oldest, UTC)
    assert {v.until for v in verdicts if v.action == "defer"} == {first + timedelta(hours=24)}
    client.sadd(keys.SUPPRESSED, "s")
    assert gate.reserve(campaigns[0], "s", record, start, "x").reason == "suppressed"
    assert client.zcard(keys.frequency("s")) == 0
