"""Who may be sent to, and when: opt-in, the suppression list, quiet hours, frequency caps.

Phone numbers are kept as a keyed hash wherever they only need to be recognised (the
suppression list, frequency counts, Redis key names): a person who asks to be forgotten
loses their data but stays unsubscribed.
"""

import functools
import hashlib
import hmac
import importlib.util
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone

from renderer.orchestrator.campaign import Campaign, Window

# phonenumbers' English descriptions of US area codes end in a state's name or its code
# ("Seattle, WA", "Washington State", "Washington D.C."): every state and DC, by name.
US_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington State": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Washington D.C.": "DC",
}

CODES = set(US_STATES.values())


def phone_key(secret: bytes, phone: str) -> str:
    """A keyed hash of an E.164 number: recognisable by us, meaningless to anyone else."""
    return hmac.new(secret, phone.encode(), hashlib.sha256).hexdigest()[:24]


def zones(phone: str, column: str | None) -> list[str]:
    """The recipient's time zones: the audience's column, else what the number says."""
    if column:
        return [column]
    found = timezone.time_zones_for_number(phonenumbers.parse(phone))
    return [zone for zone in found if zone != "Etc/Unknown"] or ["UTC"]


def state(phone: str) -> str | None:
    """The US state of a number's area code (for stricter state rules), if known."""
    parsed = phonenumbers.parse(phone)
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    digits = f"{parsed.country_code}{parsed.national_number}"
    place = next(
        (
            _us_places()[digits[:length]]
            for length in range(len(digits), 1, -1)
            if digits[:length] in _us_places()
        ),
        "",
    )
    if place in US_STATES:
        return US_STATES[place]
    tail = place.rsplit(", ", 1)[-1]
    return tail if tail in CODES else None


@functools.cache
def _us_places() -> dict[str, str]:
    """The English place of every prefix of country code 1, from phonenumbers' geocoding
    data, read a file at a time keeping only these: the whole table (every country, every
    language: what ``phonenumbers.geocoder`` loads) would be 100 MB in every worker."""
    places: dict[str, str] = {}
    folder = Path(phonenumbers.__file__).parent / "geodata"
    for path in sorted(folder.glob("data*.py")):
        spec = importlib.util.spec_from_file_location(f"phonenumbers.geodata.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        places.update(
            (prefix, names["en"])
            for prefix, names in module.data.items()
            if prefix.startswith("1") and names.get("en")
        )
    return places


def window_for(campaign: Campaign, phone: str) -> Window:
    """The stricter of the campaign's window and the recipient's state rule."""
    return window_of(campaign.quiet_hours, campaign.state_windows, phone)


def window_of(base: Window, state_windows: dict[str, Window], phone: str) -> Window:
    """The stricter of ``base`` and the state rule of the number's area, if any."""
    rule = state_windows.get(state(phone) or "")
    if rule is None:
        return base
    return Window(max(base.start, rule.start), min(base.end, rule.end), rule.max_per_24h)


def next_opening(window: Window, zone_names: list[str], now: datetime) -> datetime | None:
    """None when the window is open now in every zone; else the first moment it is."""
    candidate = now
    for _ in range(8):  # zones a few hours apart agree within a couple of rounds
        late = [z for z in zone_names if not window.open_at(candidate.astimezone(ZoneInfo(z)))]
        if not late:
            return None if candidate == now else candidate
        candidate = max(_opening_in(window, ZoneInfo(z), candidate) for z in late)
    return candidate


def _opening_in(window: Window, zone: ZoneInfo, after: datetime) -> datetime:
    local = after.astimezone(zone)
    opening = local.replace(
        hour=window.start.hour, minute=window.start.minute, second=0, microsecond=0
    )
    if opening <= local:
        opening = (opening + timedelta(days=1)).replace(tzinfo=zone)
    return opening.astimezone(after.tzinfo)
