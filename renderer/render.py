"""One image from a template and values: validate, fill, check, fit, rasterize, encode.

The CLI and the HTTP service both render through ``render``, so they cannot disagree.
"""

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from renderer import fields, fit, raster
from renderer.catalog import Template
from renderer.encode import Encoded, encode, normalize_format

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    encoded: Encoded
    template: str
    version: str
    fitted: list[fit.Fitted]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())


def clock_now(at: datetime | None = None) -> datetime:
    """The render's "now": the pinned ``at``, else the clock rounded down to the minute.

    Rounding keeps an unpinned countdown cacheable for a minute instead of a second.
    """
    if at is not None:
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.now(UTC).replace(second=0, microsecond=0)


def fill(template: Template, raw: Mapping[str, str], at: datetime | None = None) -> str:
    """The filled, checked and fitted SVG: what CairoSVG will draw (also for inspection)."""
    svg, _ = _fill(template, raw, at, {})
    return svg


def render(
    template: Template,
    raw: Mapping[str, str],
    *,
    format: str | None = None,
    budget: int | None = None,
    at: datetime | None = None,
) -> Rendered:
    """Render ``template`` with the string values ``raw`` into an encoded image."""
    timings: dict[str, float] = {}
    format = normalize_format(format or template.format)
    svg, fitted = _fill(template, raw, at, timings)

    started = time.perf_counter()
    image = raster.rasterize(svg.encode(), template.fetcher, template.width, template.height)
    timings["raster"] = time.perf_counter() - started

    started = time.perf_counter()
    encoded = encode(image, format, budget or template.budget)
    timings["encode"] = time.perf_counter() - started
    rendered = Rendered(encoded, template.name, template.version, fitted, timings)
    log.info(
        "rendered %s@%s: %s, %d encodes, %.0f ms",
        template.name,
        template.version,
        encoded.describe(),
        encoded.encodes,
        rendered.seconds * 1000,
    )
    return rendered


def _fill(
    template: Template, raw: Mapping[str, str], at: datetime | None, timings: dict[str, float]
) -> tuple[str, list[fit.Fitted]]:
    started = time.perf_counter()
    values = fields.validate(template.fields, raw)
    root = template.parse(template.fill(values, clock_now(at)))
    fitted = fit.fit_text(root)
    svg = ET.tostring(root, encoding="unicode")
    timings["fill"] = time.perf_counter() - started
    return svg, fitted
