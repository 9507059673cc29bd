"""One image from a template and values: plan (validate), then fill, check, fit, rasterize,
encode.

``plan`` turns what a caller gave into a ``Job``: everything the image depends on, so that
``Job.key`` can name the image in the cache before anything is drawn. ``render`` draws it.
The CLI and the HTTP service both go through these two, so they cannot disagree.
"""

import hashlib
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from renderer.core import compose, fields, jpeg, palette, raster, text
from renderer.core.catalog import Template
from renderer.core.encode import Encoded, check_budget, encode, normalize_format
from renderer.core.errors import TemplateError
from renderer.core.gif import Delta, delta, encode_animation
from renderer.core.jpeg import encode_rows
from renderer.core.limits import MAX_RENDER_SECONDS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """What to render: typed values (defaults and live values filled in), time, format, budget."""

    template: Template
    values: dict[str, Any]
    now: datetime
    format: str
    budget: int
    pinned: bool  # "now" was given (``at``), not read off the clock

    @property
    def live(self) -> bool:
        """Whether the image shows something that changes without its URL changing."""
        return bool(self.template.live_fields) or (self.template.uses_clock and not self.pinned)

    def key(self) -> str:
        """The image's name in the cache, and its ETag."""
        parts = [self.template.name, self.template.version, self.format, str(self.budget)]
        parts += [f"{name}={_canonical(value)}" for name, value in sorted(self.values.items())]
        if self.template.uses_clock:
            parts.append(f"now={self.now.isoformat()}")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Rendered:
    encoded: Encoded
    template: str
    version: str
    fitted: list[text.Fitted]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    missing: dict[str, list[str]] = field(default_factory=dict)  # field -> characters left out

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


def parse_at(value: str | int) -> datetime:
    """A pinned "now" given as unix seconds (short, what URLs carry) or ISO 8601; a time
    without an offset is UTC. ValueError saying how to write it."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"at must be unix seconds or ISO 8601 like 2026-11-27T10:00:00Z; got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plan(
    template: Template,
    raw: Mapping[str, str],
    *,
    format: str | None = None,
    budget: int | None = None,
    at: datetime | None = None,
) -> Job:
    """Validate ``raw`` against the template; FieldErrors, BudgetError or ValueError if bad."""
    return Job(
        template=template,
        values=fields.validate(template.fields, raw),
        now=clock_now(at),
        format=normalize_format(format or template.format),
        budget=check_budget(budget or template.budget),
        pinned=at is not None,
    )


def fill(job: Job) -> str:
    """The whole filled, checked and fitted SVG: what a whole CairoSVG render draws (for
    inspection, and the reference the layered path is tested against)."""
    root = job.template.parse(job.template.fill(job.values, job.now))
    text.typeset(root)
    return ET.tostring(root, encoding="unicode")


def svg(job: Job) -> str:
    """The filled SVG with its text set as plain paths (and emoji as images): what any SVG
    viewer draws the same as the renderer does. The CLI's ``--svg``."""
    root = job.template.parse(job.template.fill(job.values, job.now))
    text.typeset(root)
    text.export(root)
    return ET.tostring(root, encoding="unicode")


def render(job: Job) -> Rendered:
    """Draw and encode ``job``. CPU-bound: the service runs it off the event loop.

    A layered template draws only its dynamic runs over its static ones (stage "composite");
    any other is drawn whole by CairoSVG (stage "raster"). An animated template draws each
    of its frames that way and encodes them as one GIF.
    """
    timings: dict[str, float] = {}
    template = job.template
    if template.animation is not None and job.format == "gif":
        first, deltas, durations, fitted = _animate(job, timings)
        started = time.perf_counter()
        countdown = template.animation.kind == "countdown"
        keep = palette.template_colors(template.source)
        encoded = encode_animation(first, deltas, durations, job.budget, countdown, keep)
    elif template.layers.layered and job.format == "jpg":
        encoded, fitted, started = _draw_rows(job, timings)
    else:
        image, fitted = _draw(job, job.now, 0, timings)
        started = time.perf_counter()
        keep = palette.template_colors(template.source)
        encoded = encode(image, job.format, job.budget, template.predictor, keep)
    timings["encode"] = time.perf_counter() - started - timings.get("splice", 0)
    missing = _missing(job)
    rendered = Rendered(encoded, template.name, template.version, fitted, timings, missing)
    log.info(
        "rendered %s@%s: %s, %d encodes, %.0f ms",
        template.name,
        template.version,
        encoded.describe(),
        encoded.encodes,
        rendered.seconds * 1000,
    )
    return rendered


def _draw(job: Job, now: datetime, frame: int, timings: dict[str, float]):
    """One image of the job at ``now`` (and animation ``frame``); adds to ``timings``."""
    template = job.template
    size = (template.width, template.height)
    root = _parsed(job, now, frame, timings)
    layers = template.layers
    started = time.perf_counter()
    fitted = compose.fit_dynamic(layers, root) if layers.layered else text.typeset(root)
    _add(timings, "fit", started)

    started = time.perf_counter()
    if layers.layered:
        image = compose.compose(layers, root, template.fetcher, size)
        stage = "composite"
    else:
        drawn = ET.tostring(root, encoding="unicode").encode()
        image = raster.rasterize(drawn, template.fetcher, *size)
        stage = "raster"
    _add(timings, stage, started)
    return image, fitted


def _parsed(job: Job, now: datetime, frame: int, timings: dict[str, float]) -> ET.Element:
    """The template filled with the job's values (stage "fill") and parsed ("parse")."""
    started = time.perf_counter()
    filled = job.template.fill(job.values, now, frame)
    _add(timings, "fill", started)
    started = time.perf_counter()
    root = job.template.parse(filled)
    _add(timings, "parse", started)
    return root


def _add(timings: dict[str, float], stage: str, started: float) -> None:
    """Add the time since ``started`` to ``stage`` (an animation's frames add up)."""
    timings[stage] = timings.get(stage, 0) + time.perf_counter() - started


def _missing(job: Job) -> dict[str, list[str]]:
    """The characters of each text value that no bundled font has: they were left out of the
    image (a field with ``missing_glyphs = "reject"`` refused them before). Logged here;
    the service counts them."""
    fonts = text.fontset()
    missing = {}
    for name, value in job.values.items():
        if isinstance(value, str) and job.template.fields[name].type == "text":
            uncovered = fonts.uncovered(value)
            if uncovered:
                missing[name] = uncovered
                log.warning(
                    "template %s field %s: no bundled font has %s; left out of the image",
                    job.template.name,
                    name,
                    ", ".join(f"U+{ord(c):04X}" for c in uncovered),
                )
    return missing


def _animate(job: Job, timings: dict[str, float]):
    """An animation's frames: the first whole, each other as the box where it differs from
    the first. A layered template draws only the runs that change from frame to frame (a
    countdown's ticking clock), inside their boxes; others are drawn whole and compared."""
    template, layers = job.template, job.template.layers
    size = (template.width, template.height)
    first, before, deltas, durations = None, {}, [], []
    began = time.perf_counter()
    for now, frame, duration in _frames(job):
        if time.perf_counter() - began > MAX_RENDER_SECONDS:  # each frame is priced by
            raise TemplateError(  # the guard; all of them together are timed
                f"drawing its frames takes over {MAX_RENDER_SECONDS:g} s; simplify it",
                template.name,
            )
        durations.append(duration)
        if not layers.layered:
            image, fitted = _draw(job, now, frame, timings)
            if first is None:
                first = image
            else:
                deltas.append(delta(image, first))
            continue
        root = _parsed(job, now, frame, timings)
        started = time.perf_counter()
        fitted = compose.fit_dynamic(layers, root)
        _add(timings, "fit", started)
        started = time.perf_counter()
        drawn = compose.draw_dynamic(layers, root, template.fetcher, size)
        if first is None:
            first, before = compose.paint(layers, drawn, (0, 0, *size)), drawn
        else:
            changed = compose.changes(layers, drawn, before, size)
            deltas.append(Delta(*changed) if changed else Delta())
        _add(timings, "composite", started)
    return first, deltas, durations, fitted


def _draw_rows(job: Job, timings: dict[str, float]) -> tuple[Encoded, list, float]:
    """A layered JPEG: only the rows the values change are drawn and encoded, the rest spliced
    from the template's static rows (``jpeg.py``). When the budget needs more than a plain
    quality, the whole image is drawn and encoded instead. Returns the encode's start time."""
    template = job.template
    size = (template.width, template.height)
    root = _parsed(job, job.now, 0, timings)
    started = time.perf_counter()
    fitted = compose.fit_dynamic(template.layers, root)
    _add(timings, "fit", started)
    started = time.perf_counter()
    changed = compose.compose_rows(template.layers, root, template.fetcher, size, jpeg.MCU_ROWS)
    _add(timings, "composite", started)
    started = time.perf_counter()
    encoded = encode_rows(
        changed.bands, changed.keys, size, template.rows, job.budget, template.predictor, timings
    )
    if encoded is None:
        image = compose.compose(template.layers, root, template.fetcher, size)
        encoded = encode(image, job.format, job.budget, template.predictor)
    return encoded, fitted, started


def _frames(job: Job) -> list[tuple[datetime, int, int]]:
    """(now, frame, duration ms) of each frame. A countdown starts at the job's "now" and
    ticks a second a frame, and stops at its end: past it, one frame of the expired state."""
    animation = job.template.animation
    if animation.kind == "loop":
        return [(job.now, index, ms) for index, ms in enumerate(animation.durations)]
    left = int((job.values[animation.ends_at] - job.now).total_seconds())
    count = max(1, min(animation.frames, left + 1))
    return [(job.now + timedelta(seconds=i), i, 1000) for i in range(count)]


def _canonical(value: Any) -> str:
    if value is None:
        return "\0none"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
