"""Drawing shaped glyphs inside CairoSVG: outlines as cairo paths, colour emoji as bitmaps.

The layout replaces each ``<text>`` with glyph elements (``<t:glyphs face size glyphs>``, in
this module's namespace) that say which glyph goes where. This module teaches CairoSVG that
element: its drawing function appends each glyph's outline to the current path, and CairoSVG
then fills and strokes that path with the element's paint, opacity, clip and transform as it
does for any shape. So the rasterizer draws exactly what was shaped.

Outlines are read from HarfBuzz once per face and glyph and kept as cairo paths (in font
units; a glyph is placed by translating and scaling the context before appending it), so a
render that repeats a glyph costs a few cairo calls, not a glyph load. Colour emoji are the
font's PNG bitmaps, decoded once and painted scaled to the glyph's box.
"""

import io
import threading
from collections import OrderedDict

import cairocffi as cairo
import cairosvg.bounding_box
import cairosvg.surface

from renderer.core.text.fontset import Face, fontset

NS = "urn:mms-renderer:text"
TAG = f"{{{NS}}}glyphs"
MAX_OUTLINES = 20_000  # glyph paths kept per process (a Latin glyph is about 1 KB)
MAX_BITMAPS = 512  # decoded emoji

_lib, _ffi = cairo.cairo, cairo.ffi
_local = threading.local()
_lock = threading.Lock()
_outlines: OrderedDict = OrderedDict()
_bitmaps: OrderedDict = OrderedDict()


def glyphs_attribute(glyphs) -> str:
    """``gid,x,y`` for each glyph, space-separated: what the glyph element carries."""
    return " ".join(f"{g.id},{g.x:.2f},{g.y:.2f}" for g in glyphs)


def draw(surface, node) -> None:
    """CairoSVG's drawing function for a glyph element: outlines onto the current path
    (CairoSVG fills and strokes it next), colour bitmaps painted now."""
    face = fontset().by_id[node["face"]]
    scale = float(node["size"]) / face.upem
    slant = float(node.get("slant", 0))
    context = surface.context
    pointer = context._pointer
    for item in node.get("glyphs", "").split():
        gid, x, y = item.split(",")
        gid, x, y = int(gid), float(x), float(y)
        if face.color:
            if surface.stroke_and_fill:
                alpha = float(node.get("fill-opacity", 1)) * float(node.get("opacity", 1))
                _paint_bitmap(context, face, gid, x, y, scale, alpha)
            continue
        path = outline(face, gid)
        if path is None:
            continue
        _lib.cairo_save(pointer)
        _lib.cairo_translate(pointer, x, y)
        _lib.cairo_scale(pointer, scale, -scale)
        if slant:
            context.transform(cairo.Matrix(1, 0, slant, 1, 0, 0))
        _lib.cairo_append_path(pointer, path)
        _lib.cairo_restore(pointer)


def bounding_box(surface, node):
    """The glyph element's box (for gradients in objectBoundingBox units)."""
    x, y, width, height = (float(v) for v in node.get("box", "0 0 0 0").split())
    return x, y, width, height


def outline(face: Face, gid: int):
    """The glyph's outline as a cairo path in font units (y up), or None when it has none."""
    key = (face.id, gid)
    with _lock:
        path = _outlines.get(key)
        if path is not None:
            _outlines.move_to_end(key)
            return path or None
    context = _scratch()
    context.new_path()
    face.font.draw_glyph_with_pen(gid, _Pen(context))
    raw = _lib.cairo_copy_path(context._pointer)
    context.new_path()
    path = _ffi.gc(raw, _lib.cairo_path_destroy) if raw.num_data else False
    if not path:
        _lib.cairo_path_destroy(raw)
    with _lock:
        _outlines[key] = path
        while len(_outlines) > MAX_OUTLINES:
            _outlines.popitem(last=False)
    return path or None


def _scratch() -> cairo.Context:
    """A context per thread to build paths in (cairo contexts are not thread-safe)."""
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = cairo.Context(cairo.ImageSurface(cairo.FORMAT_A8, 1, 1))
    return context


class _Pen:
    """HarfBuzz's outline callbacks onto a cairo path (quadratic curves made cubic)."""

    def __init__(self, context: cairo.Context):
        self.context = context
        self.current = (0.0, 0.0)

    def moveTo(self, point):
        self.context.move_to(*point)
        self.current = point

    def lineTo(self, point):
        self.context.line_to(*point)
        self.current = point

    def curveTo(self, first, second, point):
        self.context.curve_to(*first, *second, *point)
        self.current = point

    def qCurveTo(self, control, point):
        (x0, y0), (cx, cy), (x, y) = self.current, control, point
        self.context.curve_to(
            x0 + 2 / 3 * (cx - x0), y0 + 2 / 3 * (cy - y0),
            x + 2 / 3 * (cx - x), y + 2 / 3 * (cy - y), x, y,
        )  # fmt: skip
        self.current = point

    def closePath(self):
        self.context.close_path()


def _paint_bitmap(context, face: Face, gid: int, x: float, y: float, scale: float, alpha):
    found = _bitmap(face, gid)
    if found is None:
        return
    image, (x_bearing, y_bearing, width, height) = found
    if not width or not height:
        return
    context.save()
    context.translate(x + x_bearing * scale, y - y_bearing * scale)
    context.scale(width * scale / image.get_width(), -height * scale / image.get_height())
    context.set_source_surface(image, 0, 0)
    context.get_source().set_filter(cairo.FILTER_GOOD)
    context.paint_with_alpha(alpha)
    context.restore()


def _bitmap(face: Face, gid: int):
    key = (face.id, gid)
    with _lock:
        if key in _bitmaps:
            _bitmaps.move_to_end(key)
            return _bitmaps[key]
    png = face.font.get_glyph_color_png(gid)
    found = None
    if png is not None and len(png.data):
        image = cairo.ImageSurface.create_from_png(io.BytesIO(bytes(png.data)))
        extents = face.font.get_glyph_extents(gid)
        found = image, (extents.x_bearing, extents.y_bearing, extents.width, extents.height)
    with _lock:
        _bitmaps[key] = found
        while len(_bitmaps) > MAX_BITMAPS:
            _bitmaps.popitem(last=False)
    return found


cairosvg.surface.TAGS[TAG] = draw
cairosvg.bounding_box.BOUNDING_BOX_METHODS[TAG] = bounding_box
