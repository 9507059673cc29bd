"""One ``<text>`` element set: its characters and styles gathered, fitted, placed, and the
element replaced by glyph elements that ``draw`` draws.

Per element: ``<tspan>``s are runs with their own style and paint; a ``<tspan>`` with ``x``,
``y``, ``dx`` or ``dy`` starts a new text chunk (each chunk is anchored on its own, and is
its own bidi paragraph). White space collapses as browsers do (``xml:space="preserve"``
keeps it). The element's box declarations: ``data-fit-width`` (px), ``data-min-size`` (px,
default half the size), ``data-max-lines`` (default 1) and ``data-line-height`` (times the
font size, default 1.2).
"""

import copy
import math
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from cachetools import LRUCache

from renderer.core.errors import TemplateError
from renderer.core.text.draw import TAG, glyphs_attribute
from renderer.core.text.fontset import fontset
from renderer.core.text.lines import left_edge, place, scale_to_fit, set_at
from renderer.core.text.runs import Span, itemize
from renderer.core.text.style import TextStyle, first, length, resolve

SVG = "http://www.w3.org/2000/svg"
TSPAN = {f"{{{SVG}}}tspan", f"{{{SVG}}}a", f"{{{SVG}}}textPath"}
FIT_WIDTH, MIN_SIZE = "data-fit-width", "data-min-size"
MAX_LINES, LINE_HEIGHT = "data-max-lines", "data-line-height"
LAYOUT_ATTRIBUTES = {"x", "y", "dx", "dy", "rotate", "textLength", "lengthAdjust", FIT_WIDTH,
                     MIN_SIZE, MAX_LINES, LINE_HEIGHT}  # fmt: skip
# What a <tspan> passes to its glyphs (everything else it states is layout, read above).
PAINT = ("fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
         "stroke-linejoin", "stroke-linecap", "stroke-dasharray", "stroke-dashoffset",
         "stroke-miterlimit", "opacity", "style", "class", "visibility", "display")  # fmt: skip
_settled: LRUCache = LRUCache(maxsize=512)  # (element, style) -> (glyph group, Fitted)
_lock = threading.Lock()
BASELINES = {  # dominant-baseline: where the alphabetic baseline sits below y, in metrics
    "middle": lambda m: m["x_height"] / 2,
    "central": lambda m: (m["ascender"] + m["descender"]) / 2,
    "hanging": lambda m: 0.8 * m["ascender"],
    "mathematical": lambda m: 0.5 * m["ascender"],
    "text-before-edge": lambda m: m["ascender"],
    "text-top": lambda m: m["ascender"],
    "before-edge": lambda m: m["ascender"],
    "text-after-edge": lambda m: m["descender"],
    "text-bottom": lambda m: m["descender"],
    "after-edge": lambda m: m["descender"],
    "ideographic": lambda m: m["descender"],
}


@dataclass(frozen=True)
class Fitted:
    """What the engine did with one text element: for logs, lint, the studio and tests."""

    id: str
    text: str  # what is drawn, lines joined by "\n"
    size: float  # font size after fitting (of its first run)
    width: float  # px, the widest line
    ellipsized: bool
    lines: int = 1
    fitted: bool = False  # it declares data-fit-width
    shrunk: bool = False  # fitting drew it smaller than its own size, or cut it
    box: tuple[float, float, float, float] | None = None  # x, y, width, height
    missing: tuple[str, ...] = ()  # characters no bundled font has, left out


@dataclass
class Chunk:
    x: float | None
    y: float | None
    dx: float
    dy: float
    text: list[str]
    span_of: list[int]


def set_text(element: ET.Element, style: TextStyle, parent: ET.Element | None) -> Fitted:
    """Lay ``element`` out and put glyph elements where it was; what was done.

    The same element in the same style comes out the same: a template's lines that do not
    change between recipients (a discount, a countdown) are set once and copied."""
    key = (ET.tostring(element), style)
    with _lock:
        found = _settled.get(key)
    if found is None:
        found = _set(element, style)
        with _lock:
            _settled[key] = found
    group, fitted = found
    if parent is not None:
        index = list(parent).index(element)
        parent.remove(element)
        parent.insert(index, copy.deepcopy(group))
    return fitted


def _set(element: ET.Element, style: TextStyle) -> tuple[ET.Element, Fitted]:
    name = element.get("id") or "text"
    try:
        box = _number(element, FIT_WIDTH, None)
        min_size = _number(element, MIN_SIZE, style.size / 2)
        max_lines = int(_number(element, MAX_LINES, 1))
        line_height = _number(element, LINE_HEIGHT, 1.2)
    except ValueError:
        raise TemplateError(
            f"<text id={name!r}>: {FIT_WIDTH}, {MIN_SIZE}, {MAX_LINES} and {LINE_HEIGHT} "
            "must be numbers"
        ) from None
    spans: list[Span] = []
    chunks = _chunks(element, style, spans)
    paragraphs = [itemize("".join(c.text), spans, c.span_of, style.direction == "rtl")
                  for c in chunks if c.text]  # fmt: skip
    k_min = min(1.0, min_size / style.size) if style.size else 1.0
    max_lines = max(1, max_lines)
    k = min((scale_to_fit(p, box, k_min, max_lines) for p in paragraphs), default=1.0)
    if k < 1.0:  # a size on a quarter-pixel grid: cairo reuses its glyphs at that size
        k = max(k_min, math.floor(style.size * k * 4) / (4 * style.size))
    settings = [set_at(p, box, k, max_lines) for p in paragraphs]
    laid = [lines for lines, _ in settings]
    group = ET.Element(f"{{{SVG}}}g", {a: v for a, v in element.attrib.items()
                                       if a not in LAYOUT_ATTRIBUTES})  # fmt: skip
    group.tail = element.tail
    pen = (0.0, 0.0)
    boxes, texts, widths = [], [], []
    laid_out = iter(laid)
    for chunk in chunks:
        x = (chunk.x if chunk.x is not None else pen[0]) + chunk.dx
        y = (chunk.y if chunk.y is not None else pen[1]) + chunk.dy
        pen = (x, y)
        if not chunk.text:
            continue
        chunk_lines = next(laid_out)
        first_style = spans[chunk.span_of[0]].style if chunk.span_of else style
        pen, found = _place(group, chunk_lines, spans, first_style, x, y, k, line_height)
        boxes += found
        texts += [line.text for line in chunk_lines]
        widths += [line.width(k) for line in chunk_lines]
    missing = tuple(dict.fromkeys(c for p in paragraphs for c in p.missing))
    title = ET.Element(f"{{{SVG}}}title")  # the words: for search and screen readers
    title.text = " ".join(texts)
    group.insert(0, title)
    return group, Fitted(
        id=name,
        text="\n".join(texts),
        size=round((spans[0].style.size if spans else style.size) * k, 2),
        width=round(max(widths, default=0.0), 1),
        ellipsized=any(cut for _, cut in settings),
        lines=sum(len(chunk_lines) for chunk_lines in laid),
        fitted=box is not None,
        shrunk=k < 1 - 1e-9 or any(cut for _, cut in settings),
        box=_union(boxes),
        missing=missing,
    )


def _place(group, chunk_lines, spans, style, x, y, k, line_height):
    """Glyph elements for the lines of one chunk (``style``: its first run's); (pen after
    it, line boxes)."""
    face = fontset().chain(style.families, style.weight, style.italic)[0]
    metrics = face.metrics
    size = style.size * k
    shift = BASELINES.get(style.baseline, lambda m: 0.0)(metrics) * size
    boxes = []
    pen = (x, y)
    for index, line in enumerate(chunk_lines):
        baseline = y + shift + index * line_height * size
        width = line.width(k)
        made = []
        for placed in place(line, x, baseline, style.anchor, k):
            if not placed.glyphs:
                continue
            attributes = dict(spans[placed.run.span].attrs)
            attributes.update(face=placed.run.face.id, size=f"{placed.size:.3f}",
                              glyphs=glyphs_attribute(placed.glyphs))  # fmt: skip
            if placed.run.slant:
                attributes["slant"] = str(placed.run.slant)
            made.append(ET.SubElement(group, TAG, attributes))
        left = left_edge(line, x, style.anchor, k)
        box = (left, baseline - metrics["ascender"] * size, width,
               (metrics["ascender"] - metrics["descender"]) * size)  # fmt: skip
        for element in made:
            element.set("box", " ".join(f"{v:.1f}" for v in box))
        boxes.append(box)
        pen = (left + width, y)
    return pen, boxes


def _chunks(element: ET.Element, style: TextStyle, spans: list[Span]) -> list[Chunk]:
    """The element's characters in chunks, white space handled, each char's span noted."""
    chunks = [Chunk(*_position(element, style), [], [])]
    state = {"space": True}  # a collapsible space was the last character (or at the start)

    def add(text: str, span: int, preserve: bool) -> None:
        chunk = chunks[-1]
        for char in text:
            if char in "\n\r\t":
                char = " "
            if char == " " and not preserve:
                if state["space"]:
                    continue
                state["space"] = True
            else:
                state["space"] = False
            chunk.text.append(char)
            chunk.span_of.append(span)

    def walk(node: ET.Element, node_style: TextStyle, attrs: tuple) -> None:
        spans.append(Span(node_style, attrs))
        add(node.text or "", len(spans) - 1, node_style.preserve)
        for child in node:
            if child.tag in TSPAN:
                child_style = resolve(child, node_style)
                x, y, dx, dy = _position(child, child_style)
                if x is not None or y is not None or dx or dy:
                    chunks.append(Chunk(x, y, dx, dy, [], []))
                    state["space"] = not node_style.preserve
                paint = tuple((a, child.get(a)) for a in PAINT if child.get(a) is not None)
                walk(child, child_style, _merge(attrs, paint))
            spans.append(Span(node_style, attrs))
            add(child.tail or "", len(spans) - 1, node_style.preserve)

    walk(element, style, ())
    return chunks


def _merge(outer: tuple, inner: tuple) -> tuple:
    merged = dict(outer)
    for name, value in inner:
        merged[name] = f"{merged[name]};{value}" if name == "style" and name in merged else value
    return tuple(merged.items())


def _position(node: ET.Element, style: TextStyle):
    """x, y (None when not given), dx, dy: the first value of each list."""

    def value(name):
        found = first(node.get(name))
        return None if found is None else length(found, 0.0, style.size)

    return value("x"), value("y"), value("dx") or 0.0, value("dy") or 0.0


def _number(element: ET.Element, name: str, default):
    value = element.get(name)
    return default if value is None or not value.strip() else float(value)


def _union(boxes):
    if not boxes:
        return None
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return (round(left, 1), round(top, 1), round(right - left, 1), round(bottom - top, 1))
