"""SVG filters drawn as browsers draw them: the effects design tools export.

CairoSVG draws almost none of a ``<filter>``: it moves the element by its ``feOffset``, sets
the operator of its ``feBlend``, and ignores the rest, so a Figma drop shadow (``feFlood``,
``feColorMatrix``, ``feOffset``, ``feGaussianBlur``, ``feComposite``, ``feBlend``) is not
drawn and the text it wraps moves 4 px. This module replaces CairoSVG's three filter hooks.
When CairoSVG has drawn a filtered element into its group (the SourceGraphic), the group is
read as pixels (device space: the element's transforms and the output scale applied), the
filter's primitives run on them in numpy (sizes in user units scaled to pixels, colours in
the filter's ``color-interpolation-filters`` space, linearRGB unless it says sRGB), and the
result, cropped to the filter region, is what CairoSVG paints (with the element's opacity
and mask). Static runs and dynamic runs are drawn through the same path.

Drawn: feFlood, feOffset, feGaussianBlur, feColorMatrix (matrix, saturate, hueRotate,
luminanceToAlpha), feComposite (over, in, out, atop, xor, arithmetic), feBlend (normal,
multiply, screen, darken, lighten), feMerge. ``unsupported`` names the rest, for lint.
A pattern fill in ``objectBoundingBox`` units (a photo in Figma) is placed at the element's
box, as browsers place it (``_draw_pattern``).
"""

import math
import xml.etree.ElementTree as ET

import cairocffi as cairo
import cairosvg.bounding_box
import cairosvg.defs
import cairosvg.helpers
import cairosvg.surface
import numpy as np
from cairosvg.helpers import size
from PIL import Image, ImageFilter

from renderer.core.cascade import declarations

PRIMITIVES = {"feFlood", "feOffset", "feGaussianBlur", "feColorMatrix", "feComposite", "feBlend",
              "feMerge"}  # fmt: skip
BLENDS = {"normal", "multiply", "screen", "darken", "lighten"}
COMPOSITES = {"over", "in", "out", "atop", "xor", "arithmetic"}
MATRICES = {"matrix", "saturate", "hueRotate", "luminanceToAlpha"}


def unsupported(primitive_tag: str, attributes: dict) -> str | None:
    """What of one filter primitive (its local tag name and attributes) is not drawn, or
    None when all of it is."""
    if primitive_tag not in PRIMITIVES:
        return primitive_tag
    if primitive_tag == "feBlend" and attributes.get("mode", "normal") not in BLENDS:
        return f"feBlend mode {attributes['mode']!r}"
    if primitive_tag == "feComposite" and attributes.get("operator", "over") not in COMPOSITES:
        return f"feComposite operator {attributes['operator']!r}"
    if primitive_tag == "feColorMatrix" and attributes.get("type", "matrix") not in MATRICES:
        return f"feColorMatrix type {attributes['type']!r}"
    return None


def not_drawn(root: ET.Element) -> list[tuple[str, str]]:
    """(element id or tag, what) for each effect under ``root`` the renderer would not draw
    as a browser does: a filter primitive or mode not above, a ``mix-blend-mode``. The tree's
    ``<style>`` rules must be inlined (``cascade.inline``)."""
    found = []
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        if tag == "filter":
            for child in element:
                what = unsupported(child.tag.rpartition("}")[2], child.attrib)
                if what:
                    found.append((element.get("id") or "filter", f"{what} is not drawn"))
        style = dict((n, v) for n, v, _ in declarations(element.get("style", "")))
        blend = style.get("mix-blend-mode", element.get("mix-blend-mode", "normal"))
        if blend.strip() != "normal":
            found.append((element.get("id") or tag, f"mix-blend-mode {blend!r} is not drawn"))
    return found


def _prepare(surface, node, name) -> None:
    """CairoSVG's hook before the group: nothing (it would move the element by feOffset)."""


def _after(surface, node, name) -> None:
    """CairoSVG's hook after painting: nothing (it would paint feFlood again)."""


def _before(surface, node, name) -> None:
    """CairoSVG's hook between the group and its painting: the group is the current source;
    replace it with the filter's result, computed inside the filter region only."""
    filter_node = surface.filters.get(name)
    if filter_node is None or ("id" in node and node["id"] in surface.masks):
        return
    context = surface.context
    ctm, group = context.get_matrix(), context.get_source()
    canvas = (math.ceil(surface.width), math.ceil(surface.height))
    region = _region(surface, filter_node, ctm, lambda: _ink(group, ctm, canvas), canvas)
    if region is None:
        context.set_source_rgba(0, 0, 0, 0)
        return
    left, top, right, bottom = region
    piece = cairo.ImageSurface(cairo.FORMAT_ARGB32, right - left, bottom - top)
    painter = cairo.Context(piece)
    painter.set_matrix(ctm.multiply(cairo.Matrix(x0=-left, y0=-top)))
    painter.set_source(group)
    painter.paint()
    result = _run(surface, filter_node, _pixels(piece), ctm)
    pattern = cairo.SurfacePattern(_surface(result))
    pattern.set_matrix(ctm.multiply(cairo.Matrix(x0=-left, y0=-top)))
    context.set_source(pattern)


def _ink(group, ctm, canvas) -> tuple[int, int, int, int] | None:
    """Where the group has ink, in device pixels (left, top, right, bottom)."""
    mask = cairo.ImageSurface(cairo.FORMAT_A8, *canvas)
    painter = cairo.Context(mask)
    painter.set_matrix(ctm)
    painter.set_source(group)
    painter.paint()
    mask.flush()
    data = np.frombuffer(bytes(mask.get_data()), dtype=np.uint8)
    alpha = data.reshape(canvas[1], mask.get_stride())[:, : canvas[0]] > 0
    if not alpha.any():
        return None
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _pixels(image: cairo.ImageSurface) -> np.ndarray:
    """Premultiplied RGBA in [0, 1], rows by columns by 4."""
    image.flush()
    stride = image.get_stride()
    data = np.frombuffer(bytes(image.get_data()), dtype=np.uint8)
    data = data.reshape(image.get_height(), stride // 4, 4)[:, : image.get_width()]
    return data[..., [2, 1, 0, 3]].astype(np.float32) / 255  # cairo: BGRA, little-endian


def _surface(pixels: np.ndarray) -> cairo.ImageSurface:
    height, width = pixels.shape[:2]
    image = cairo.ImageSurface(cairo.FORMAT_ARGB32, width, height)
    stride = image.get_stride()
    bgra = np.zeros((height, stride // 4, 4), dtype=np.uint8)
    clipped = np.clip(pixels, 0, 1)
    clipped[..., :3] = np.minimum(clipped[..., :3], clipped[..., 3:])
    bgra[:, :width] = np.round(clipped[..., [2, 1, 0, 3]] * 255).astype(np.uint8)
    image.get_data()[:] = bgra.tobytes()
    image.mark_dirty()
    return image


def _region(surface, filter_node, ctm, ink, canvas) -> tuple[int, int, int, int] | None:
    """The filter region in device pixels, inside the canvas (None when empty); ``ink()``
    gives the element's ink box, for a region in fractions of it (the default)."""
    units = filter_node.get("filterUnits", "objectBoundingBox")
    if units == "userSpaceOnUse":
        x = size(surface, filter_node.get("x", "-10%"), "x")
        y = size(surface, filter_node.get("y", "-10%"), "y")
        w = size(surface, filter_node.get("width", "120%"), "x")
        h = size(surface, filter_node.get("height", "120%"), "y")
        corners = [ctm.transform_point(px, py) for px in (x, x + w) for py in (y, y + h)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        box = (min(xs), min(ys), max(xs), max(ys))
    else:
        found = ink()
        if found is None:
            return None
        bx, by, bw, bh = found[0], found[1], found[2] - found[0], found[3] - found[1]
        defaults = (("x", "-10%"), ("y", "-10%"), ("width", "120%"), ("height", "120%"))
        fx, fy, fw, fh = (_fraction(filter_node.get(n, d)) for n, d in defaults)
        box = (bx + fx * bw, by + fy * bh, bx + (fx + fw) * bw, by + (fy + fh) * bh)
    left, top = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    right, bottom = min(canvas[0], math.ceil(box[2])), min(canvas[1], math.ceil(box[3]))
    return (left, top, right, bottom) if right > left and bottom > top else None


def _fraction(value: str) -> float:
    value = str(value).strip()
    return float(value[:-1]) / 100 if value.endswith("%") else float(value)


def _run(surface, filter_node, source: np.ndarray, ctm) -> np.ndarray:
    """The filter's primitives on ``source`` (premultiplied sRGB); its result, in sRGB."""
    linear = filter_node.get("color-interpolation-filters", "linearRGB") != "sRGB"
    graphic = _to_linear(source) if linear else source
    alpha = np.zeros_like(graphic)
    alpha[..., 3] = graphic[..., 3]
    results = {"SourceGraphic": graphic, "SourceAlpha": alpha}
    last = graphic
    for child in filter_node.children:
        if child.tag not in PRIMITIVES:
            continue

        def take(name: str, child=child, last=last) -> np.ndarray:
            found = child.get(name)
            if found is None:
                return last
            return results.get(found, np.zeros_like(graphic))  # BackgroundImage: nothing

        last = _primitive(surface, child, take, graphic.shape, ctm, linear)
        if child.get("result"):
            results[child["result"]] = last
    return _from_linear(last) if linear else last


def _primitive(surface, child, take, shape, ctm, linear) -> np.ndarray:
    tag = child.tag
    if tag == "feFlood":
        colour = _colour(surface, child.get("flood-color", "black"), linear)
        opacity = float(child.get("flood-opacity", 1))
        flood = np.empty(shape, dtype=np.float32)
        flood[...] = (*(c * colour[3] * opacity for c in colour[:3]), colour[3] * opacity)
        return flood
    if tag == "feOffset":
        dx = size(surface, child.get("dx", 0), 1)
        dy = size(surface, child.get("dy", 0), 1)
        x0, y0 = ctm.transform_distance(dx, dy)
        return _shift(take("in"), x0, y0)
    if tag == "feGaussianBlur":
        given = str(child.get("stdDeviation", "0")).replace(",", " ").split()
        deviations = [float(v) for v in given]
        sx, sy = (deviations * 2)[:2] if deviations else (0.0, 0.0)
        xx, yx, xy, yy, _, _ = ctm.as_tuple()
        return _blur(take("in"), sx * math.hypot(xx, yx), sy * math.hypot(xy, yy))
    if tag == "feColorMatrix":
        return _colour_matrix(take("in"), child.get("type", "matrix"), child.get("values"))
    if tag == "feComposite":
        k = [float(child.get(f"k{i}", 0)) for i in range(1, 5)]
        return _composite(take("in"), take("in2"), child.get("operator", "over"), k)
    if tag == "feBlend":
        return _blend(take("in"), take("in2"), child.get("mode", "normal"))
    merged = np.zeros(shape, dtype=np.float32)  # feMerge
    for node in child.children:
        if node.tag == "feMergeNode":
            top = take("in", node)
            merged = top + merged * (1 - top[..., 3:])
    return merged


def _colour(surface, value: str, linear: bool) -> tuple[float, float, float, float]:
    _, colour = cairosvg.helpers.paint(value)
    r, g, b, a = surface.map_color(colour or "black")
    if linear:
        r, g, b = (float(_linear_channel(np.float32(c))) for c in (r, g, b))
    return r, g, b, a


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) px, bilinear between whole pixels, transparent behind."""
    out = np.zeros_like(image)
    fx, fy = math.floor(dx), math.floor(dy)
    for ox, wx in ((fx, 1 - (dx - fx)), (fx + 1, dx - fx)):
        for oy, wy in ((fy, 1 - (dy - fy)), (fy + 1, dy - fy)):
            if wx * wy > 1e-6:
                out += wx * wy * _moved(image, ox, oy)
    return out


def _moved(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(image)
    height, width = image.shape[:2]
    if abs(dx) >= width or abs(dy) >= height:
        return out
    out[max(0, dy) : height + min(0, dy), max(0, dx) : width + min(0, dx)] = image[
        max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)
    ]
    return out


def _blur(image: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Gaussian blur of premultiplied pixels (Pillow's extended box blur, as browsers
    approximate it with three box blurs); a deviation of 0 leaves that axis as it is."""
    if sx <= 0 and sy <= 0:
        return image
    channels = []
    for index in range(4):
        band = Image.fromarray(np.round(image[..., index] * 255).astype(np.uint8), "L")
        band = band.filter(ImageFilter.GaussianBlur((max(sx, 0), max(sy, 0))))
        channels.append(np.asarray(band, dtype=np.float32) / 255)
    return np.stack(channels, axis=-1)


def _colour_matrix(image: np.ndarray, kind: str, values: str | None) -> np.ndarray:
    numbers = [float(v) for v in (values or "").replace(",", " ").split()]
    if kind == "saturate":
        s = numbers[0] if numbers else 1.0
        matrix = np.array([
            [0.213 + 0.787 * s, 0.715 - 0.715 * s, 0.072 - 0.072 * s, 0, 0],
            [0.213 - 0.213 * s, 0.715 + 0.285 * s, 0.072 - 0.072 * s, 0, 0],
            [0.213 - 0.213 * s, 0.715 - 0.715 * s, 0.072 + 0.928 * s, 0, 0],
            [0, 0, 0, 1, 0]])  # fmt: skip
    elif kind == "hueRotate":
        a = math.radians(numbers[0] if numbers else 0.0)
        c, s = math.cos(a), math.sin(a)
        matrix = np.array([
            [0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715,
             0.072 - c * 0.072 + s * 0.928, 0, 0],
            [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140,
             0.072 - c * 0.072 - s * 0.283, 0, 0],
            [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715,
             0.072 + c * 0.928 + s * 0.072, 0, 0],
            [0, 0, 0, 1, 0]])  # fmt: skip
    elif kind == "luminanceToAlpha":
        matrix = np.array([[0] * 5, [0] * 5, [0] * 5, [0.2125, 0.7154, 0.0721, 0, 0]])
    else:
        matrix = np.array(numbers).reshape(4, 5) if len(numbers) == 20 else np.eye(4, 5)
    alpha = image[..., 3:]
    straight = np.where(alpha > 0, image / np.maximum(alpha, 1e-6), 0)
    straight[..., 3:] = alpha
    out = straight @ matrix[:, :4].T.astype(np.float32) + matrix[:, 4].astype(np.float32)
    out = np.clip(out, 0, 1)
    out[..., :3] *= out[..., 3:]
    return out


def _composite(a: np.ndarray, b: np.ndarray, operator: str, k: list[float]) -> np.ndarray:
    aa, ab = a[..., 3:], b[..., 3:]
    if operator == "in":
        return a * ab
    if operator == "out":
        return a * (1 - ab)
    if operator == "atop":
        return a * ab + b * (1 - aa)
    if operator == "xor":
        return a * (1 - ab) + b * (1 - aa)
    if operator == "arithmetic":
        out = np.clip(k[0] * a * b + k[1] * a + k[2] * b + k[3], 0, 1)
        out[..., :3] = np.minimum(out[..., :3], out[..., 3:])
        return out
    return a + b * (1 - aa)  # over


def _blend(a: np.ndarray, b: np.ndarray, mode: str) -> np.ndarray:
    """``a`` (in) blended over ``b`` (in2), premultiplied (Compositing and Blending 1)."""
    aa, ab = a[..., 3:], b[..., 3:]
    if mode == "multiply":
        colour = a * (1 - ab) + b * (1 - aa) + a * b
    elif mode == "screen":
        colour = a + b - a * b
    elif mode == "darken":
        colour = np.minimum(a * ab, b * aa) + a * (1 - ab) + b * (1 - aa)
    elif mode == "lighten":
        colour = np.maximum(a * ab, b * aa) + a * (1 - ab) + b * (1 - aa)
    else:
        colour = a + b * (1 - aa)
    out = colour.copy()
    out[..., 3:] = aa + ab - aa * ab
    return out


def _linear_channel(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_linear(image: np.ndarray) -> np.ndarray:
    alpha = image[..., 3:]
    straight = np.where(alpha > 0, image[..., :3] / np.maximum(alpha, 1e-6), 0)
    out = image.copy()
    out[..., :3] = _linear_channel(straight) * alpha
    return out


def _from_linear(image: np.ndarray) -> np.ndarray:
    alpha = image[..., 3:]
    straight = np.clip(np.where(alpha > 0, image[..., :3] / np.maximum(alpha, 1e-6), 0), 0, 1)
    encoded = np.where(straight <= 0.0031308, straight * 12.92,
                       1.055 * straight ** (1 / 2.4) - 0.055)  # fmt: skip
    out = image.copy()
    out[..., :3] = encoded * alpha
    return out


def _draw_pattern(surface, node, name, opacity) -> bool:
    """CairoSVG's pattern fill, with the tile placed at the element's box: for a pattern in
    ``objectBoundingBox`` units (the default; Figma's photo fills) CairoSVG starts the tiles
    at the origin instead, so a photo in a rectangle at y=420 shows cut and repeated."""
    pattern_node = surface.patterns.get(name)
    if pattern_node is not None and pattern_node.get("patternUnits") != "userSpaceOnUse":
        x, y, _, _ = cairosvg.bounding_box.calculate_bounding_box(surface, node)
        surface.context.translate(x, y)  # inside the fill's save/restore: the path is made
    return _cairosvg_pattern(surface, node, name, opacity)


_cairosvg_pattern = cairosvg.defs.draw_pattern
cairosvg.defs.draw_pattern = _draw_pattern
cairosvg.surface.prepare_filter = _prepare
cairosvg.surface.apply_filter_before_painting = _before
cairosvg.surface.apply_filter_after_painting = _after
