"""The filters and tests a marketer writes in a template (``renderer.core.sandbox`` is the
Jinja2 environment they run in).

``{{ price | money }}``, ``{{ ends_at | date("%b %-d") }}``, ``{{ ends_at | countdown }}``,
``{% if ends_at is past %}``. Countdowns read ``now`` from the render context: the pinned
``at`` of the URL, or the server clock rounded to the minute, so the image stays cacheable.
"""

import functools
import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import segno
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from renderer.core.fields import zone

SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(value: Decimal | int | float, currency: str = "USD", cents: bool = True) -> str:
    """``$1,234.50``; ``cents=False`` drops ``.00`` on whole amounts (``$20``)."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    symbol = SYMBOLS.get(currency.upper(), currency.upper() + " ")
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    digits = f"{amount:,.0f}" if not cents and amount == amount.to_integral() else f"{amount:,.2f}"
    return f"{sign}{symbol}{digits}"


def date(value: datetime, format: str = "%b %-d", tz: str | None = None) -> str:
    """strftime in the time zone ``tz`` (an IANA name) or the value's own."""
    if tz:
        value = value.astimezone(zone(tz))
    return value.strftime(format)


@pass_context
def countdown(
    context: Context, ends_at: datetime, style: str = "clock", expired: str = "Offer ended"
) -> str:
    """Time left until ``ends_at``: ``2d 04:13`` / ``04:13`` (clock), ``04:13:09``
    (seconds, for animated countdowns) or ``Ends in 3 hours`` (words). Real elapsed time: a
    daylight-saving change in between counts as the hour it really is."""
    left = ends_at - context["now"]
    if left <= timedelta(0):
        return expired
    if style == "words":
        return "Ends in " + _in_words(left)
    if style == "seconds":
        seconds = int(left.total_seconds())
        days, seconds = divmod(seconds, 86400)
        clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return f"{days}d {clock}" if days else clock
    minutes = int(left.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    clock = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _in_words(left: timedelta) -> str:
    seconds = int(left.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


@pass_context
def past(context: Context, moment: Any) -> bool:
    """``{% if ends_at is past %}``: the expired state of a countdown."""
    return isinstance(moment, datetime) and moment <= context["now"]


@functools.lru_cache(maxsize=128)  # a campaign's recipients share a few links
def qr(value: str, x: float = 0, y: float = 0, size: float = 200, color: str = "#000000") -> Markup:
    """``{{ link | qr(x=820, y=60, size=200) }}``: the QR code of a value as one SVG path.

    The value is encoded into modules by segno; only numbers reach the SVG, so a merge value
    cannot inject markup through it. Draw a light square behind it for contrast.
    """
    code = segno.make(str(value), error="m")
    matrix = list(code.matrix)
    modules = len(matrix) + 8  # four modules of quiet zone on each side
    scale = float(size) / modules
    path = "".join(  # one rectangle per horizontal run of dark modules: fewer to draw
        f"M{start + 4} {row + 4}h{length}v1h-{length}z"
        for row, line in enumerate(matrix)
        for start, length in _runs(line)
    )
    fill = re.sub(r"[^#0-9A-Za-z]", "", str(color))
    return Markup(
        f'<g transform="translate({float(x):g} {float(y):g}) scale({scale:.5f})">'
        f'<rect width="{modules}" height="{modules}" fill="#ffffff"/>'
        f'<path d="{path}" fill="{fill}" shape-rendering="crispEdges"/></g>'
    )


def _runs(line) -> list[tuple[int, int]]:
    runs, start = [], None
    for column, dark in enumerate([*line, 0]):
        if dark and start is None:
            start = column
        elif not dark and start is not None:
            runs.append((start, column - start))
            start = None
    return runs


FILTERS = {"money": money, "date": date, "countdown": countdown, "qr": qr}
TESTS = {"past": past}
