"""Scenario 11: what the guard's draw cost is worth. Hostile SVGs of each kind CairoSVG
amplifies, built just under ``MAX_DRAW_COST`` (the worst a template may make one draw cost)
and far over it (what the guard refuses before drawing): milliseconds per cost unit, and
how long the refusal takes. The baseline in the same run is one ordinary flash_sale draw.

The builders are also the tests' hostile inputs (``tests/test_limits.py``).
"""

import base64
import struct
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from renderer.core import fields, guard, limits, raster
from renderer.core.catalog import Template
from renderer.core.errors import TemplateError
from renderer.core.raster import Fetcher
from renderer.core.render import plan, render

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)

HEAD = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="400" height="400">'
)
NAME = '<text x="10" y="50" font-size="30" data-fit-width="380">{{ first_name }}</text>'


def pattern_fanout(levels: int) -> str:
    """Each level's pattern fills two squares with the level below: 2^levels drawings."""
    defs = [
        '<pattern id="p0" width="10" height="10" patternUnits="userSpaceOnUse">'
        '<rect width="5" height="5" fill="red"/></pattern>'
    ]
    for i in range(1, levels + 1):
        defs.append(
            f'<pattern id="p{i}" width="10" height="10" patternUnits="userSpaceOnUse">'
            f'<rect width="5" height="5" fill="url(#p{i - 1})"/>'
            f'<rect x="5" width="5" height="5" fill="url(#p{i - 1})"/></pattern>'
        )
    body = f'<rect width="400" height="400" fill="url(#p{levels})"/>'
    return HEAD + "<defs>" + "".join(defs) + "</defs>" + body + NAME + "</svg>"


def mask_fanout(levels: int) -> str:
    defs = ['<mask id="m0"><rect width="400" height="400" fill="white"/></mask>']
    for i in range(1, levels + 1):
        defs.append(
            f'<mask id="m{i}"><rect width="200" height="400" fill="white" mask="url(#m{i - 1})"/>'
            f'<rect x="200" width="200" height="400" fill="white" mask="url(#m{i - 1})"/></mask>'
        )
    body = f'<rect width="400" height="400" fill="blue" mask="url(#m{levels})"/>'
    return HEAD + "<defs>" + "".join(defs) + "</defs>" + body + NAME + "</svg>"


def markers(points: int) -> str:
    """A marker (two circles) at every vertex of a ``points``-point path."""
    path = "M0 0 " + " ".join(f"L{i % 400} {i * 7 % 400}" for i in range(points))
    marker = (
        '<defs><marker id="m" markerWidth="4" markerHeight="4"><circle r="2" fill="red"/>'
        '<circle r="1" fill="blue"/></marker></defs>'
    )
    shape = f'<path d="{path}" stroke="black" marker-mid="url(#m)"/>'
    return HEAD + marker + shape + NAME + "</svg>"


def nested_loops(depth: int, count: int) -> str:
    opens = "".join(f"{{% for i{k} in range({count}) %}}" for k in range(depth))
    return HEAD + "<g>" + opens + "{% endfor %}" * depth + "</g>" + NAME + "</svg>"


def use_bomb(levels: int, fan: int = 10) -> str:
    """An SVG whose ``<use>`` tree draws fan^levels rectangles."""
    parts = [HEAD.replace('width="400" height="400"', 'width="100" height="100"')]
    parts.append('<defs><rect id="a0" width="1" height="1"/>')
    for i in range(1, levels + 1):
        parts.append(f'<g id="a{i}">' + f'<use href="#a{i - 1}"/>' * fan + "</g>")
    return "".join(parts) + f'</defs><use href="#a{levels}"/></svg>'


def image(href: str) -> str:
    return HEAD + f'<image width="400" height="400" href="{href}"/>' + NAME + "</svg>"


def data_uri(media: str, data: bytes) -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


def static_text(chars: int) -> str:
    words = "lorem ipsum " * (chars // 12)
    return HEAD + f'<text x="0" y="100" font-size="10">{words}</text>' + NAME + "</svg>"


def rectangles(count: int) -> str:
    shapes = "".join(
        f'<rect x="{i % 400}" y="{i * 7 % 400}" width="3" height="3" fill="#{i % 999:03d}"/>'
        for i in range(count)
    )
    return HEAD + shapes + NAME + "</svg>"


def solid_png(width: int, height: int) -> bytes:
    """A black RGB PNG, written row by row: a 16000x16000 one is about 1 MB."""
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + width * 3)
    data = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


# kind -> (the SVG just under the limit, the SVG far over it)
KINDS: dict[str, tuple[Callable[[], str], Callable[[], str]]] = {
    "elements": (lambda: rectangles(9_900), lambda: rectangles(10_500)),
    "text": (lambda: static_text(29_000), lambda: static_text(1_000_000)),
    "markers": (lambda: markers(3_000), lambda: markers(5_000)),
    "pattern fan-out": (lambda: pattern_fanout(7), lambda: pattern_fanout(22)),
    "use in an SVG image": (
        lambda: image(data_uri("image/svg+xml", use_bomb(3, 16).encode())),
        lambda: image(data_uri("image/svg+xml", use_bomb(8).encode())),
    ),
    "image pixels": (
        lambda: image(data_uri("image/png", solid_png(2896, 2896))),
        lambda: image(data_uri("image/png", solid_png(16_000, 16_000))),
    ),
}


def run(baseline: Template) -> dict:
    """Per kind: the cost and draw time of the worst accepted SVG, and the refusal time."""
    started = time.perf_counter()
    render(plan(baseline, fields.example_values(baseline.fields, "sample"), at=AT))
    base_ms = (time.perf_counter() - started) * 1000
    fetcher = Fetcher({})
    rows = []
    for kind, (under, over) in KINDS.items():
        text = under()
        started = time.perf_counter()
        _, cost = guard.checked(text, {})
        raster.rasterize(text.encode(), fetcher, 400, 400)
        draw_ms = (time.perf_counter() - started) * 1000
        text = over()
        started = time.perf_counter()
        try:
            guard.parse(text, {})
            refused = "not refused"
        except TemplateError as exc:
            refused = exc.message[:70]
        rows.append(
            {
                "kind": kind,
                "cost": cost,
                "draw_ms": draw_ms,
                "us_per_unit": draw_ms * 1000 / cost,
                "over_baseline": draw_ms / base_ms,
                "refused_ms": (time.perf_counter() - started) * 1000,
                "refused": refused,
            }
        )
    return {"limit": limits.MAX_DRAW_COST, "baseline_ms": base_ms, "kinds": rows}
