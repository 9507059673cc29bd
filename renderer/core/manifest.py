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

    def fail(message: str, needle: str = "") -> TemplateError:
        return TemplateError(
            message, name, MANIFEST_FILE, line_of(text, needle) if needle else None
        )

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise TemplateError(
            f"not valid TOML: {exc}", name, MANIFEST_FILE, int(match.group(1)) if match else None
        ) from None
    unknown = set(data) - MANIFEST_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key {key!r}; known: {', '.join(sorted(MANIFEST_KEYS))}", key)
    if data.get("name", name) != name:
        raise fail(f"name {data['name']!r} must be the folder's name {name!r}", "name")
    for side in ("width", "height"):
        value = data.get(side)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(f"{side} must be a whole number of pixels", side)
        if value > limits.MAX_SIDE_PX:
            raise fail(f"{side} {value} px is over the {limits.MAX_SIDE_PX} px limit", side)
    try:
        data["format"] = normalize_format(str(data.get("format", "jpg")))
        data["budget"] = check_budget(
            limits.parse_bytes(data.get("budget", limits.DEFAULT_BUDGET_BYTES))
        )
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
    spec = data["animation"]
    kind = spec.get("kind")
    if data["format"] != "gif":
        raise fail('an animated template needs format = "gif"', "format")
    if kind == "countdown":
        frames = int(spec.get("frames", 60))
        durations = (1000,) * frames
        ends_at = spec.get("ends_at", "ends_at")
        if getattr(data["fields"].get(ends_at), "type", "") != "datetime":
            raise fail(f"the countdown's ends_at {ends_at!r} must name a datetime field", "ends_at")
        animation = Animation("countdown", frames, durations, ends_at, spec.get("element"))
    elif kind == "loop":
        durations = tuple(int(d) for d in spec.get("durations", []))
        if not durations or min(durations) < 20:
            raise fail("a loop needs durations, one per frame, of 20 ms or more", "durations")
        animation = Animation("loop", len(durations), durations)
    else:
        raise fail('animation kind must be "countdown" or "loop"', "kind")
    if not 1 <= animation.frames <= limits.MAX_FRAMES:
        raise fail(f"{animation.frames} frames; at most {limits.MAX_FRAMES}", "frames")
    pixels = animation.frames * data["width"] * data["height"]
    if pixels > limits.MAX_ANIMATION_PIXELS:
        raise fail(
            f"{animation.frames} frames of {data['width']}x{data['height']} are "
            f"{pixels / 1e6:.1f} Mpx; at most {limits.MAX_ANIMATION_PIXELS / 1e6:.0f} Mpx in all",
            "animation",
        )
    return animation
