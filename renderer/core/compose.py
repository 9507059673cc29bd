"""Layered rendering: draw what never changes once, and only what a recipient changes per image.

At load, the template's top-level elements are split, in document order, into runs: static
runs (no Jinja expression, no live value, nothing they refer to that varies) are drawn once
per template version into cairo surfaces; dynamic runs (anything that depends on values or
time, or marked ``data-dynamic``) are filled and drawn per request. A request starts from a
copy of the first static surface and, in document order, has CairoSVG draw each dynamic run
straight onto it and paints each later static run over it (only inside its bounding box), so
a static element above a dynamic one stays above it. Definitions (``<defs>``, gradients,
``<style>``) travel with every run.

Drawing the dynamic runs onto the composed surface, rather than into cropped layers to
composite afterwards, costs the same cairo work and saves the crop bookkeeping and a Pillow
composite per layer; cairo only touches the pixels the text covers. A dynamic run that comes
out the same again (a campaign's QR code, the lines of a countdown GIF that do not tick) is
drawn once more into a small surface of its own, kept, and from then on painted like a
static run.

A template whose source is not XML as written (a ``<`` inside a Jinja expression), whose
root element or ``<style>`` varies, or that refers across runs by id renders whole instead,
through ``raster.rasterize``; ``Layers.reason`` says why.
"""

import contextlib
import re
import threading
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass, field

import cairocffi as cairo
import cairosvg.parser
import cairosvg.surface
from cachetools import LRUCache
from PIL import Image

from renderer.core import fit
from renderer.core.errors import TemplateError
from renderer.core.guard import SVG, references
from renderer.core.raster import DPI, Fetcher

MARK = "data-layer"
SEEN_BYTES = 4_000_000  # filled dynamic runs remembered, per template version
PIECE_BYTES = 32_000_000  # dynamic runs kept drawn, per template version
JINJA = re.compile(r"\{[{%#]")
BLOCK_OPEN = re.compile(r"\{%-?\s*(if|for|with|filter|macro|call|block|raw)\b")
BLOCK_CLOSE = re.compile(r"\{%-?\s*end\w+")
SHARED_TAGS = {
    f"{{{SVG}}}{name}"
    for name in (
        "defs", "style", "linearGradient", "radialGradient", "pattern", "clipPath", "mask",
        "filter", "symbol", "marker",
    )
}  # fmt: skip


@dataclass
class Run:
    static: bool
    marks: frozenset[str]  # the data-layer values of its top-level elements
    surface: cairo.ImageSurface | None = None  # static runs: drawn once
    box: tuple[int, int, int, int] | None = None  # static runs: where they have pixels


@dataclass
class Layers:
    """How one template version is drawn: layered (runs) or whole (reason says why)."""

    source: str  # the template source with data-layer marks (or as it was, if whole)
    runs: list[Run] = field(default_factory=list)
    reason: str = ""
    opaque: bool = False  # the first run covers every pixel: the result needs no alpha
    # filled dynamic runs seen once (-> their size), and those seen again with their drawn
    # pieces (-> surface, box, size): both bounded by bytes, whatever the runs weigh
    seen: LRUCache = field(
        default_factory=lambda: LRUCache(maxsize=SEEN_BYTES, getsizeof=lambda size: size),
        repr=False,
    )
    pieces: LRUCache = field(
        default_factory=lambda: LRUCache(maxsize=PIECE_BYTES, getsizeof=lambda piece: piece[2]),
        repr=False,
    )
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def layered(self) -> bool:
        return not self.reason


def analyse(source: str) -> Layers:
    """Split ``source`` into static and dynamic runs of top-level elements (no drawing yet)."""
    start = source.find("<svg")
    if start < 0:
        return Layers(source, reason="no <svg> root element")
    body = source[start:]
    try:
        positions = _top_level_starts(body.encode())
        root = ET.fromstring(body)
    except (xml.parsers.expat.ExpatError, ET.ParseError):
        return Layers(source, reason="the source is not XML as written (a '<' inside Jinja?)")
    root_tag = body[: body.index(">") + 1]
    if JINJA.search(root_tag):
        return Layers(source, reason="the <svg> element's attributes vary")
    children = list(root)
    if len(children) != len(positions):
        return Layers(source, reason="could not locate the top-level elements")

    between = [root.text or "", *(child.tail or "" for child in children)]
    if any("{{" in text for text in between):
        return Layers(source, reason="a {{ }} expression outside any element (wrap it in <g>)")
    dynamic_ids: set[str] = set()
    kinds: list[str] = []  # "shared", "static" or "dynamic" per top-level element
    depth = _block_depth(root.text or "", 0)
    for child in children:
        text = ET.tostring(child, encoding="unicode")
        varies = depth > 0 or bool(JINJA.search(text)) or "data-dynamic" in text
        if child.tag in SHARED_TAGS:
            if child.tag == f"{{{SVG}}}style" and varies:
                return Layers(source, reason="a <style> element varies")
            kinds.append("shared")
            if varies:
                dynamic_ids |= {el.get("id") for el in child.iter() if el.get("id")}
        else:
            kinds.append("dynamic" if varies else "static")
        depth = _block_depth(child.tail or "", depth)

    # static elements that use a varying definition are dynamic too
    for index, child in enumerate(children):
        if kinds[index] == "static" and _refers_to(child, dynamic_ids):
            kinds[index] = "dynamic"
    # an element drawn in one run cannot be referred to from another
    drawn_ids = {
        el.get("id"): index
        for index, child in enumerate(children)
        if kinds[index] != "shared"
        for el in child.iter()
        if el.get("id")
    }
    runs: list[Run] = []
    for index, kind in enumerate(kinds):
        if kind == "shared":
            continue
        static = kind == "static"
        if runs and runs[-1].static == static:
            runs[-1].marks = runs[-1].marks | {str(index)}
        else:
            runs.append(Run(static, frozenset({str(index)})))
    for index, child in enumerate(children):
        for ref in (r for el in child.iter() for r in references(el)):
            target = drawn_ids.get(ref.lstrip("#").split(")")[0])
            if target is not None and _run_of(runs, target) is not _run_of(runs, index):
                return Layers(
                    source, reason=f"an element refers to #{ref.lstrip('#')} in another run"
                )

    marked = bytearray(body.encode())
    for index, position in reversed(list(enumerate(positions))):
        name = re.match(rb"<([^\s/>]+)", marked[position:]).group(1)
        insert_at = position + 1 + len(name)
        marked[insert_at:insert_at] = f' {MARK}="{index}"'.encode()
    return Layers(source[:start] + marked.decode(), runs)


def prepare(layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int]) -> None:
    """Draw the static runs once, from any filled and fitted tree of the template (they do not
    depend on values); ``layers`` keeps the surfaces."""
    width, height = size
    for position, run in enumerate(layers.runs):
        if not run.static:
            continue
        surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, width, height)
        _draw(surface, ET.tostring(_subset(filled, run.marks)), fetcher, size)
        surface.flush()
        image = Image.frombuffer(
            "RGBA", size, surface.get_data(), "raw", "BGRa", surface.get_stride(), 1
        )
        alpha = image.getchannel("A")
        run.surface, run.box = surface, alpha.getbbox()
        if position == 0:
            layers.opaque = alpha.getextrema()[0] == 255


def compose(
    layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int]
) -> Image.Image:
    """The image of a filled tree: static runs from their surfaces, dynamic ones drawn now.

    Returns RGB when the first static run covers every pixel, else RGBA.
    """
    width, height = size
    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, width, height)
    context = cairo.Context(surface)
    for run in layers.runs:
        if run.static:
            _paint(context, run.surface, run.box, (0, 0))
        elif any(child.get(MARK) in run.marks for child in filled):
            svg = ET.tostring(_subset(filled, run.marks))
            with layers.lock:
                piece = layers.pieces.get(svg)
                again = piece is None and svg in layers.seen
                with contextlib.suppress(ValueError):  # larger than the whole memo
                    layers.seen[svg] = len(svg) + 100
            if piece is None and again:
                piece = _piece(svg, fetcher, size)
                with layers.lock, contextlib.suppress(ValueError):
                    layers.pieces[svg] = piece
            if piece is None:
                _draw(surface, svg, fetcher, size)
            else:
                _paint(context, piece[0], piece[1], piece[1][:2])
    surface.flush()
    data, stride = surface.get_data(), surface.get_stride()
    if layers.opaque:  # the decoders copy: the image does not hold on to the surface
        return Image.frombuffer("RGB", size, data, "raw", "BGRX", stride, 1)
    return Image.frombuffer("RGBA", size, data, "raw", "BGRa", stride, 1)


def fit_dynamic(layers: Layers, filled: ET.Element) -> list[fit.Fitted]:
    """Fit the text of the dynamic runs (static text was fitted when it was drawn)."""
    static = set().union(*(r.marks for r in layers.runs if r.static)) if layers.runs else set()
    fitted = []
    for child in filled:
        if child.get(MARK) not in static:
            fitted += fit.fit_text(child)
    return fitted


class _Onto(cairosvg.surface.PNGSurface):
    """A CairoSVG surface that draws onto a cairo surface we already have."""

    def __init__(self, target: cairo.ImageSurface, tree, size: tuple[int, int]):
        self._target = target
        super().__init__(tree, None, DPI, output_width=size[0], output_height=size[1])

    def _create_surface(self, width, height):
        return self._target, self._target.get_width(), self._target.get_height()


def _paint(context: cairo.Context, source, box, offset: tuple[int, int]) -> None:
    """Paint ``source`` (placed at ``offset``) over the surface, inside ``box`` only."""
    if box is None:
        return
    left, top, right, bottom = box
    context.save()
    context.rectangle(left, top, right - left, bottom - top)
    context.clip()
    context.set_source_surface(source, *offset)
    context.paint()
    context.restore()


def _piece(svg: bytes, fetcher: Fetcher, size: tuple[int, int]):
    """A dynamic run drawn alone, cropped to where it has pixels: (surface, box, bytes)."""
    full = cairo.ImageSurface(cairo.FORMAT_ARGB32, *size)
    _draw(full, svg, fetcher, size)
    full.flush()
    alpha = Image.frombuffer("RGBA", size, full.get_data(), "raw", "BGRa", full.get_stride(), 1)
    box = alpha.getchannel("A").getbbox()
    if box is None:
        return cairo.ImageSurface(cairo.FORMAT_ARGB32, 1, 1), None, len(svg) + 100
    left, top, right, bottom = box
    piece = cairo.ImageSurface(cairo.FORMAT_ARGB32, right - left, bottom - top)
    context = cairo.Context(piece)
    context.set_source_surface(full, -left, -top)
    context.paint()
    return piece, (left, top, right, bottom), len(svg) + 4 * (right - left) * (bottom - top)


def _draw(target: cairo.ImageSurface, svg: bytes, fetcher: Fetcher, size) -> None:
    try:
        tree = cairosvg.parser.Tree(
            bytestring=svg, url=fetcher.BASE + "template.svg", url_fetcher=fetcher
        )
        _Onto(target, tree, size)
    except TemplateError:
        raise
    except Exception as exc:  # CairoSVG raises bare TypeError/ValueError on odd SVG
        raise TemplateError(f"CairoSVG could not draw the SVG: {exc}") from None


def _subset(filled: ET.Element, marks: frozenset[str]) -> ET.Element:
    """The root with the shared definitions and only the top-level elements of ``marks``."""
    root = ET.Element(filled.tag, filled.attrib)
    for child in filled:
        if child.tag in SHARED_TAGS or child.get(MARK) in marks:
            root.append(child)
    return root


def _run_of(runs: list[Run], index: int) -> Run | None:
    return next((run for run in runs if str(index) in run.marks), None)


def _refers_to(element: ET.Element, ids: set[str]) -> bool:
    return any(ref.lstrip("#") in ids for el in element.iter() for ref in references(el))


def _block_depth(text: str, depth: int) -> int:
    """Jinja block depth after ``text``: elements inside an ``{% if %}`` are dynamic."""
    for match in re.finditer(r"\{%-?\s*(\w+)", text):
        if BLOCK_OPEN.match(match.group(0)):
            depth += 1
        elif BLOCK_CLOSE.match(match.group(0)):
            depth -= 1
    return depth


def _top_level_starts(data: bytes) -> list[int]:
    """Byte offsets of the ``<`` of every child of the root element, in order."""
    parser = xml.parsers.expat.ParserCreate()
    depth, starts = 0, []

    def start(name, attributes):
        nonlocal depth
        depth += 1
        if depth == 2:
            starts.append(parser.CurrentByteIndex)

    def end(name):
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return starts
