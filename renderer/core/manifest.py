"""``manifest.toml``: what a template declares about itself, checked and typed.

Every number is checked before anything is built from it (an animation's frame count before
its durations exist), and an error names the manifest's line.
"""

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from renderer.core import fields, limits, live
from renderer.core.encode import check_budget, normalize_format
from renderer.core.errors import RendererError, TemplateError, line_of

MANIFEST_FILE = "manifest.toml"
MANIFEST_KEYS = {
    "name",
    "description",
    "width",
    "height",
    "format",
    "budget",
    "fields",
    "animation",
}


@dataclass(frozen=True)
class Animation:
    """An animated GIF: a countdown that ticks a second a frame, or a loop of frames."""

    kind: str  # "countdown" or "loop"
    frames: int
    durations: tuple[int, ...]  # milliseconds per frame (a countdown: 1000 each)
    ends_at: str | None = None  # countdown: the datetime field it counts to
    element: str | None = None  # countdown: the id of the element showing the time


def parse_manifest(text: str, name: str) -> dict[str, Any]:
    """The manifest's values, checked and typed."""
    if len(text) > limits.MAX_MANIFEST_BYTES:
        raise TemplateError(
            f"is over {limits.MAX_MANIFEST_BYTES:,} characters", name, MANIFEST_FILE
        )

    def fail(message: str, needle: str = "") -> TemplateError:
        return TemplateError(
            message, name, MANIFEST_FILE, line_of(text, needle) if needle else None
        )

    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise TemplateError("not valid TOML: nested too deep", name, MANIFEST_FILE) from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise TemplateError(
            f"not valid TOML: {exc}", name, MANIFEST_FILE, int(match.group(1)) if match else None
        ) from None
    unknown = set(data) - MANIFEST_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key {key!r}; known: {', '.join(sorted(MANIFEST_KEYS))}", key)
    if not isinstance(data.get("description", ""), str):
        raise fail("description must be text", "description")
    if data.get("name", name) != name:
        raise fail(f"name {data['name']!r} must be the folder's name {name!r}", "name")
    for side in ("width", "height"):
        value = data.get(side)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(f"{side} must be a whole number of pixels", side)
        if value > limits.MAX_SIDE_PX:
            raise fail(f"{side} {value} px is over the {limits.MAX_SIDE_PX} px limit", side)
    try:
        data["format"] = normalize_format(data.get("format", "jpg"))
        budget = data.get("budget", limits.DEFAULT_BUDGET_BYTES)
        if not isinstance(budget, str | int) or isinstance(budget, bool):
            raise ValueError(f"budget must be a size like 450KB; got {budget!r}")
        data["budget"] = check_budget(limits.parse_bytes(budget))
    except (ValueError, RendererError) as exc:
        raise fail(str(exc), "format" if "format" in str(exc) else "budget") from None
    specs = data.get("fields", {})
    if not isinstance(specs, dict):
        raise fail("fields must be tables: [fields.NAME]", "fields")
    parsed = {}
    for field_name, spec in specs.items():
        try:
            parsed[field_name] = fields.field_from_manifest(field_name, spec)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise fail(str(exc), f"[fields.{field_name}]") from None
    for kind in {live.KINDS[f.live] for f in parsed.values() if f.live}:
        if getattr(parsed.get(kind.key_field), "type", "") != kind.key_type:
            raise fail(
                f"a live {kind.name} field needs a field named {kind.key_field} "
                f"of type {kind.key_type}",
                "live",
            )
    data["fields"] = parsed
    if "animation" in data:
        data["animation"] = _animation(data, fail)
    return data


def _animation(data: dict[str, Any], fail) -> Animation:
    """The ``[animation]`` table, every number checked before anything is built from it."""
    spec = data["animation"]
    if not isinstance(spec, dict):
        raise fail("animation must be a table: [animation]", "animation")
    kind = spec.get("kind")
    if data["format"] != "gif":
        raise fail('an animated template needs format = "gif"', "format")
    if kind == "countdown":
        frames = _count(spec.get("frames", 60), "frames", 1, limits.MAX_FRAMES, fail)
        _check_pixels(frames, data, fail)
        ends_at = spec.get("ends_at", "ends_at")
        if (
            not isinstance(ends_at, str)
            or getattr(data["fields"].get(ends_at), "type", "") != "datetime"
        ):
            raise fail(f"the countdown's ends_at {ends_at!r} must name a datetime field", "ends_at")
        element = spec.get("element")
        if element is not None and not isinstance(element, str):
            raise fail("the countdown's element must be the id of an element", "element")
        return Animation("countdown", frames, (1000,) * frames, ends_at, element)
    if kind == "loop":
        durations = spec.get("durations")
        if not isinstance(durations, list) or not durations:
            raise fail("a loop needs durations, one per frame, in milliseconds", "durations")
        _count(len(durations), "frames", 1, limits.MAX_FRAMES, fail)
        _check_pixels(len(durations), data, fail)
        durations = tuple(
            _count(ms, "a frame's duration (ms)", 20, limits.MAX_FRAME_MS, fail) for ms in durations
        )
        return Animation("loop", len(durations), durations)
    raise fail('animation kind must be "countdown" or "loop"', "kind")


def _count(value: Any, what: str, low: int, high: int, fail) -> int:
    """A whole number from ``low`` to ``high``, checked before it sizes anything."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise fail(f"{what} must be a whole number from {low} to {high:,}; got {value!r}", what)
    return value


def _check_pixels(frames: int, data: dict[str, Any], fail) -> None:
    pixels = frames * data["width"] * data["height"]
    if pixels > limits.MAX_ANIMATION_PIXELS:
        raise fail(
            f"{frames} frames of {data['width']}x{data['height']} are "
            f"{pixels / 1e6:.1f} Mpx; at most {limits.MAX_ANIMATION_PIXELS / 1e6:.0f} Mpx in all",
            "animation",
        )
