"""Drawing shaped glyphs inside CairoSVG, through cairo's glyph API; colour emoji as bitmaps.

The layout replaces each ``<text>`` with glyph elements (``<t:glyphs face size glyphs>``, in
this module's namespace) that say which glyph of which font file goes where. This module
teaches CairoSVG that element. Its drawing function opens the same font file in FreeType (the
glyph ids HarfBuzz gave are that file's) and hands cairo the positioned glyphs:

* a solid fill and no stroke (nearly all text): ``show_glyphs``, which paints glyph masks that
  cairo rasterizes once per font, size and glyph and keeps, so a name drawn again costs a copy;
* anything else (a gradient, a stroke, a clip path): ``glyph_path``, which appends the glyph
  outlines (also cached by cairo per font and glyph) to the current path, and CairoSVG fills
  and strokes it with the element's paint as it does any shape.

Either way the rasterizer draws exactly what was shaped, unhinted, as the layout measured it.
Colour emoji are the font's PNG bitmaps, decoded once and painted scaled to the glyph's box.
"""

import io
import threading
from collections import OrderedDict

import cairocffi as cairo
import cairosvg.bounding_box
import cairosvg.helpers
import cairosvg.surface
import cffi

from renderer.core.text.fontset import Face, fontset

NS = "urn:mms-renderer:text"
TAG = f"{{{NS}}}glyphs"
MAX_BITMAPS = 512  # decoded emoji kept
# FreeType refuses a size of 65,536 px and more, and cairo then fails every later use of that
# font: a glyph drawn this large (font size times the transforms) is skipped instead.
MAX_PIXELS = 16_384
FT_LOAD_NO_HINTING, FT_LOAD_NO_BITMAP = 1 << 1, 1 << 3

_ffi = cffi.FFI()
_ffi.cdef(
    """
    typedef struct FT_LibraryRec_ *FT_Library;
    typedef struct FT_FaceRec_ *FT_Face;
    int FT_Init_FreeType(FT_Library *);
    int FT_New_Face(FT_Library, const char *, long, FT_Face *);
    void *cairo_ft_font_face_create_for_ft_face(FT_Face, int);
    """
)
_freetype = _ffi.dlopen("libfreetype.so.6")
_cairo_ft = _ffi.dlopen("libcairo.so.2")
_library = _ffi.new("FT_Library *")
_lock = threading.Lock()
_cairo_faces: dict[str, cairo.FontFace] = {}
_ft_faces: list = []  # kept alive for as long as cairo may use them: the process
_bitmaps: OrderedDict = OrderedDict()
OPTIONS = cairo.FontOptions()
OPTIONS.set_hint_style(cairo.HINT_STYLE_NONE)  # the positions HarfBuzz gave, unhinted
OPTIONS.set_hint_metrics(cairo.HINT_METRICS_OFF)
OPTIONS.set_antialias(cairo.ANTIALIAS_GRAY)


def glyphs_attribute(glyphs) -> str:
    """``gid,x,y`` for each glyph, space-separated: what the glyph element carries."""
    return " ".join(f"{g.id},{g.x:.2f},{g.y:.2f}" for g in glyphs)


def draw(surface, node) -> None:
    """CairoSVG's drawing function for a glyph element."""
    face = fontset().by_id[node["face"]]
    size = float(node["size"])
    glyphs = []
    for item in node.get("glyphs", "").split():
        gid, x, y = item.split(",")
        glyphs.append((int(gid), float(x), float(y)))
    context = surface.context
    xx, yx, xy, yy, _, _ = context.get_matrix().as_tuple()
    pixels = size * max(abs(xx) + abs(xy), abs(yx) + abs(yy))
    if not 0 < pixels <= MAX_PIXELS:
        return
    paint = _solid_paint(surface, node)
    if face.color:
        if paint is not None:
            for gid, x, y in glyphs:
                _paint_bitmap(context, face, gid, x, y, size / face.upem, paint[3])
        return
    context.set_font_face(cairo_face(face))
    slant = float(node.get("slant", 0))
    context.set_font_matrix(cairo.Matrix(size, 0, -slant * size, size, 0, 0))
    context.set_font_options(OPTIONS)
    if paint is None:
        context.glyph_path(glyphs)  # CairoSVG fills and strokes the path next
    elif paint[3] > 0:
        context.save()
        context.set_source_rgba(*paint)
        context.show_glyphs(glyphs)
        context.restore()


def _solid_paint(surface, node) -> tuple[float, float, float, float] | None:
    """The element's fill as RGBA when this function can paint it (a plain colour and no
    stroke; alpha 0 when nothing shows), else None: CairoSVG paints the path itself."""
    if not surface.stroke_and_fill:  # a clip path: outlines wanted, no paint
        return None
    if node.get("display") == "none" or node.get("visibility") == "hidden":
        return (0, 0, 0, 0)
    if node.get("stroke", "none") != "none":
        return None
    source, colour = cairosvg.helpers.paint(node.get("fill", "black"))
    if source:
        return None
    opacity = float(node.get("fill-opacity", 1)) * float(node.get("opacity", 1))
    return surface.map_color(colour, opacity) if colour != "none" else (0, 0, 0, 0)


def cairo_face(face: Face) -> cairo.FontFace:
    """A cairo font face on the same file and face index as HarfBuzz shapes with."""
    found = _cairo_faces.get(face.id)
    if found is not None and not cairo.cairo.cairo_font_face_status(found._pointer):
        return found
    with _lock:  # (again, if cairo put the face in an error state)
        if not _library[0] and _freetype.FT_Init_FreeType(_library):
            raise RuntimeError("FreeType did not start")
        ft_face = _ffi.new("FT_Face *")
        if _freetype.FT_New_Face(_library[0], str(face.path).encode(), face.index, ft_face):
            raise RuntimeError(f"FreeType could not open {face.path.name}")
        _ft_faces.append(ft_face)
        pointer = _cairo_ft.cairo_ft_font_face_create_for_ft_face(
            ft_face[0], FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP
        )
        found = cairo.FontFace._from_pointer(
            cairo.ffi.cast("cairo_font_face_t *", pointer), incref=False
        )
        _cairo_faces[face.id] = found
    return found


def bounding_box(surface, node):
    """The glyph element's box (for gradients in objectBoundingBox units)."""
    x, y, width, height = (float(v) for v in node.get("box", "0 0 0 0").split())
    return x, y, width, height


def _paint_bitmap(context, face: Face, gid: int, x: float, y: float, scale: float, alpha):
    found = _bitmap(face, gid)
    if found is None or not alpha:
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
    """The glyph's colour bitmap as a cairo surface and its box in font units (cached)."""
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
