"""Layered rendering: draw what never changes once, and only what a recipient changes per image.

Static runs (``layers.py``) are drawn once per template version into cairo surfaces
(``prepare``). Per image, each dynamic run is drawn by CairoSVG into a cairo recording
surface (``draw_dynamic``): the drawing operations are kept, and cairo knows where they
leave ink before any pixel exists, which tells which rows (``compose_rows``, for the partial
JPEG encoder) or which box (``changes``, for an animation's frames) the image changes. A run
drawn the same twice (a campaign's QR code, the still lines of a countdown) is rasterized
once into a small piece, kept, and painted from then on. ``paint`` then paints only what is
needed, static and dynamic runs in document order, so a static element above a dynamic one
stays above it.
"""

import contextlib
import dataclasses
import hashlib
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import cairocffi as cairo
import cairosvg.parser
import cairosvg.surface
import numpy as np
from PIL import Image

from renderer.core import text
from renderer.core.errors import TemplateError
from renderer.core.layers import MARK, SHARED_TAGS, Layers
from renderer.core.raster import DPI, Fetcher


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


@dataclass(frozen=True)
class Drawn:
    """A dynamic run of one image, ready to paint: a cairo source whose pixels lie in ``box``
    (left, top, right, bottom; None when it draws nothing visible), placed at ``offset``."""

    source: cairo.Surface
    box: tuple[int, int, int, int] | None
    digest: bytes  # of the run's filled SVG: the same digest, the same pixels
    offset: tuple[int, int] = (0, 0)
    kept: bool = False  # a kept piece: drawn before, and likely again


def compose(
    layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int]
) -> Image.Image:
    """The image of a filled tree: static runs from their surfaces, dynamic ones drawn now.

    Returns RGB when the first static run covers every pixel, else RGBA.
    """
    return paint(layers, draw_dynamic(layers, filled, fetcher, size), (0, 0, *size))


@dataclass(frozen=True)
class ChangedRows:
    """The rows of one image that differ from the template's static image (``static_image``),
    in rows of ``align`` pixels (a JPEG's MCU height)."""

    bands: list[tuple[int, Image.Image]]  # (first pixel row, the full-width rows), in order
    keys: dict[int, bytes | None]  # row -> what is drawn on it, when only kept pieces are
    # (their pixels recur image after image, so the row's encoding can be kept too)


def compose_rows(
    layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int], align: int
) -> ChangedRows:
    """Only the rows a filled tree changes: where its dynamic runs have pixels."""
    drawn = draw_dynamic(layers, filled, fetcher, size)
    touching: dict[int, list[Drawn]] = {}
    for piece in drawn.values():
        if piece.box is not None:
            for row in range(piece.box[1] // align, -(-piece.box[3] // align)):
                touching.setdefault(row, []).append(piece)
    keys = {
        row: hashlib.sha256(b"".join(sorted(piece.digest for piece in pieces))).digest()
        if all(piece.kept for piece in pieces)
        else None
        for row, pieces in touching.items()
    }
    bands, rows = [], sorted(touching)
    while rows:
        start = end = rows.pop(0)
        while rows and rows[0] == end + 1:
            end = rows.pop(0)
        top, bottom = start * align, min(size[1], (end + 1) * align)
        bands.append((top, paint(layers, drawn, (0, top, size[0], bottom))))
    return ChangedRows(bands, keys)


def static_image(layers: Layers, size: tuple[int, int]) -> Image.Image:
    """The template with no dynamic run drawn: what every row outside a band shows."""
    with layers.lock:
        if layers.static is None:
            layers.static = paint(layers, {}, (0, 0, *size))
        return layers.static


def draw_dynamic(
    layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int]
) -> dict[int, Drawn]:
    """Each dynamic run of ``filled`` recorded (cairo keeps the drawing operations, and knows
    where they leave ink), by its index in ``layers.runs``. A run drawn the same before is
    rasterized once into a small piece, kept, and painted from then on."""
    drawn = {}
    for index, run in enumerate(layers.runs):
        if run.static or not any(child.get(MARK) in run.marks for child in filled):
            continue
        svg = ET.tostring(_subset(filled, run.marks))
        with layers.lock:
            piece = layers.pieces.get(svg)
            again = piece is None and svg in layers.seen
            with contextlib.suppress(ValueError):  # larger than the whole memo: not kept
                layers.seen[svg] = len(svg)
        if piece is None:
            piece = _record(svg, fetcher, size)
            if again:
                piece = _rasterized(piece)
                with layers.lock, contextlib.suppress(ValueError):
                    layers.pieces[svg] = piece
        drawn[index] = piece
    return drawn


def changes(
    layers: Layers, drawn: dict[int, Drawn], before: dict[int, Drawn], size: tuple[int, int]
) -> tuple[tuple[int, int, int, int], Image.Image] | None:
    """Where an image (``drawn``) differs from another of the same template (``before``), and
    its pixels there: the boxes of the runs drawn differently, then and now. None when no run
    differs (an animation's frame that shows what the first showed)."""
    boxes = [
        box
        for index in drawn.keys() | before.keys()
        if _digest(drawn, index) != _digest(before, index)
        for box in (drawn[index].box if index in drawn else None, _box(before, index))
        if box is not None
    ]
    if not boxes:
        return None
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return box, paint(layers, drawn, box)


def paint(layers: Layers, drawn: dict[int, Drawn], box: tuple[int, int, int, int]) -> Image.Image:
    """The pixels inside ``box`` (left, top, right, bottom) of an image: static runs and
    ``drawn`` in document order. RGB when the first static run covers every pixel, else RGBA.
    """
    left, top, right, bottom = box
    area = (right - left, bottom - top)
    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, max(1, area[0]), max(1, area[1]))
    context = cairo.Context(surface)
    context.translate(-left, -top)
    for index, run in enumerate(layers.runs):
        if run.static:
            _paint(context, run.surface, run.box, (0, 0))
        elif index in drawn:
            _paint(context, drawn[index].source, drawn[index].box, drawn[index].offset)
    surface.flush()
    data, stride = surface.get_data(), surface.get_stride()
    if layers.opaque:  # the decoders copy: the image does not hold on to the surface
        return Image.frombuffer("RGB", area, data, "raw", "BGRX", stride, 1)
    return Image.frombuffer("RGBA", area, data, "raw", "BGRa", stride, 1)


def _digest(drawn: dict[int, Drawn], index: int) -> bytes | None:
    return drawn[index].digest if index in drawn else None


def redrawn(layers: Layers, filled: ET.Element, fetcher: Fetcher, size: tuple[int, int]) -> float:
    """The share of the image's area that the dynamic runs of ``filled`` (fitted) draw on:
    what a render draws per recipient, the rest coming from the static runs."""
    covered = np.zeros((size[1], size[0]), dtype=bool)
    for piece in draw_dynamic(layers, filled, fetcher, size).values():
        if piece.box is not None:
            left, top, right, bottom = piece.box
            covered[top:bottom, left:right] = True
    return float(covered.mean())


def _box(drawn: dict[int, Drawn], index: int) -> tuple[int, int, int, int] | None:
    return drawn[index].box if index in drawn else None


def fit_dynamic(layers: Layers, filled: ET.Element) -> list[text.Fitted]:
    """Set the text of the dynamic runs (static text was set when it was drawn)."""
    static = set().union(*(r.marks for r in layers.runs if r.static)) if layers.runs else set()
    return text.typeset(filled, [child for child in filled if child.get(MARK) not in static])


class _Onto(cairosvg.surface.PNGSurface):
    """A CairoSVG surface that draws onto a cairo surface we already have."""

    def __init__(self, target: cairo.Surface, tree, size: tuple[int, int]):
        self._target, self._size = target, size
        super().__init__(tree, None, DPI, output_width=size[0], output_height=size[1])

    def _create_surface(self, width, height):
        return self._target, *self._size


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


def _record(svg: bytes, fetcher: Fetcher, size: tuple[int, int]) -> Drawn:
    """A dynamic run drawn into a recording surface: no pixels yet, and its ink box known."""
    recording = cairo.RecordingSurface(cairo.CONTENT_COLOR_ALPHA, (0, 0, *size))
    _draw(recording, svg, fetcher, size)
    digest = hashlib.sha256(svg).digest()
    x, y, width, height = recording.ink_extents()
    left, top = max(0, math.floor(x)), max(0, math.floor(y))
    right, bottom = min(size[0], math.ceil(x + width)), min(size[1], math.ceil(y + height))
    if width <= 0 or height <= 0 or right <= left or bottom <= top:
        return Drawn(recording, None, digest)
    return Drawn(recording, (left, top, right, bottom), digest)


def _rasterized(recorded: Drawn) -> Drawn:
    """A recorded run as pixels cropped to its box: cheaper to paint again and again."""
    if recorded.box is None:
        return dataclasses.replace(recorded, kept=True)
    left, top, right, bottom = recorded.box
    piece = cairo.ImageSurface(cairo.FORMAT_ARGB32, right - left, bottom - top)
    context = cairo.Context(piece)
    context.set_source_surface(recorded.source, -left, -top)
    context.paint()
    return Drawn(piece, recorded.box, recorded.digest, (left, top), kept=True)


def _draw(target: cairo.Surface, svg: bytes, fetcher: Fetcher, size) -> None:
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
