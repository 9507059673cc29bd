"""Palettes for PNG and GIF: the template's own colours kept exact, the rest chosen for the eye.

Measured on the bundled templates (see docs/templates.md, "PNG and GIF colours"): Pillow's
fast octree palette applied with Floyd-Steinberg dithering keeps photos' colours closest (mean
CIE76 dE of the blurred image about half that of the undithered median cut we used before),
looks as good or better at a phone's display size, writes smaller files and takes a tenth of the
time. Median cut with k-means refinement scored a little higher and took 4-10 s an image.
(Pillow's libimagequant option is not in the PyPI wheels.) A palette quantizer alone drops a
colour a small area uses, which is how white text and #FFD23F used to come out as one colour:
the exact colours the template's SVG fills, strokes and stops with, where the image shows them,
are put into the palette as they are.
"""

import functools
import re

import numpy as np
from PIL import Image

RGB = tuple[int, int, int]

MAX_KEPT = 32  # at most this many template colours, and never more than a quarter of a palette
NEAR = 8
SAMPLE_SIDE = 540  # the palette is chosen from the image brought to about this size
_COLOUR = re.compile(
    r"""(?:fill|stroke|stop-color|flood-color|color)\s*(?:=\s*["']|:\s*)\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"""
)


@functools.lru_cache(maxsize=64)
def template_colors(svg: str) -> tuple[RGB, ...]:
    """The hex colours an SVG paints with (fill, stroke, stop-color attributes and styles),
    most used first: what the designer picked for text and shapes."""
    counts: dict[RGB, int] = {}
    for value in _COLOUR.findall(svg):
        if len(value) == 3:
            value = "".join(c * 2 for c in value)
        rgb = (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
        counts[rgb] = counts.get(rgb, 0) + 1
    return tuple(sorted(counts, key=lambda c: -counts[c]))


def opaque(image: Image.Image) -> Image.Image:
    """``image`` without an alpha channel when every pixel is opaque: an opaque design's PNG
    then has none (and no stray alpha-254 pixels from a quantizer that treats alpha as a
    colour)."""
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:
        return image.convert("RGB")
    return image


def shown(image: Image.Image, colors: tuple[RGB, ...]) -> tuple[RGB, ...]:
    """Those of ``colors`` that some pixel of ``image`` has exactly."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    return tuple(c for c in colors if (packed == (c[0] << 16) | (c[1] << 8) | c[2]).any())


def build(
    image: Image.Image,
    colors: int,
    keep: tuple[RGB, ...] = (),
    method: Image.Quantize = Image.Quantize.FASTOCTREE,
) -> Image.Image:
    """A P image whose palette is ``keep`` (as given, up to a quarter of ``colors``) and the
    colours ``method`` picks for the rest, from a small copy of ``image`` (RGB)."""
    keep = keep[: min(MAX_KEPT, colors // 4)]
    sample = image
    factor = max(1, min(image.size) // SAMPLE_SIDE)
    if factor > 1:
        sample = image.reduce(factor)
    picked = sample.quantize(colors - len(keep), method=method)
    entries = (picked.getpalette() or [])[: 3 * (colors - len(keep))]
    chosen = [tuple(entries[i : i + 3]) for i in range(0, len(entries), 3)]
    others = [c for c in chosen if not any(_near(c, k) for k in keep)]
    flat = [v for rgb in (*keep, *others) for v in rgb]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat)
    return palette


def _near(a: tuple, b: RGB) -> bool:
    """Within the 4-level cells Pillow's palette lookup works in, with a cell to spare: an
    octree colour this close to a kept one would take its pixels."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= NEAR


def apply(image: Image.Image, palette: Image.Image, dither: bool = True) -> Image.Image:
    """``image`` (RGB) in ``palette``'s colours, Floyd-Steinberg dithered unless told not."""
    method = Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE
    return image.quantize(palette=palette, dither=method)
