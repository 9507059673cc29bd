"""The bundled fonts, and text measured exactly as CairoSVG will draw it.

``configure`` points fontconfig at ``fonts/fonts.conf`` (only the bundled fonts, the same on
every machine). It must run before cairo first looks a font up, so the catalog calls it before
it loads a template: every drawing goes through a loaded template.
"""

import os
import threading
from pathlib import Path

import cairocffi as cairo

FONTS_DIR = Path(__file__).resolve().parent.parent.parent / "fonts"

ELLIPSIS = "…"
# The family names a template may ask for (fonts/README.md); any other silently falls back.
FAMILIES = {"Inter", "Inter Black", "Noto Sans", "sans-serif", "system-ui"}
_local = threading.local()


def configure() -> None:
    """Make fontconfig see the bundled fonts only. Idempotent; call before drawing text."""
    os.environ["FONTCONFIG_FILE"] = str(FONTS_DIR / "fonts.conf")


def _context() -> cairo.Context:
    """One scratch cairo context per thread: cairo contexts are not thread-safe."""
    context = getattr(_local, "context", None)
    if context is None:
        context = _local.context = cairo.Context(cairo.ImageSurface(cairo.FORMAT_ARGB32, 1, 1))
    return context


def is_bold(weight: str | None) -> bool:
    """CairoSVG's rule: ``bold`` or a numeric weight of 550 and up; cairo knows no other."""
    if not weight:
        return False
    weight = weight.strip().lower()
    return weight == "bold" or (weight.isdigit() and int(weight) >= 550)


def text_width(
    text: str,
    family: str,
    size: float,
    *,
    bold: bool = False,
    italic: bool = False,
    letter_spacing: float = 0.0,
) -> float:
    """Advance width of ``text`` in px.

    CairoSVG places each character by its own advance (no kerning), so this sums the same
    per-character advances rather than measuring the string as a whole.
    """
    context = _context()
    context.select_font_face(
        family,
        cairo.FONT_SLANT_ITALIC if italic else cairo.FONT_SLANT_NORMAL,
        cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL,
    )
    context.set_font_size(size)
    width = sum(context.text_extents(char)[4] for char in text)
    return width + letter_spacing * max(len(text) - 1, 0)


def has_glyphs(text: str, family: str, *, bold: bool = False) -> bool:
    """Whether the font that ``family`` resolves to draws every character of ``text``."""
    context = _context()
    context.select_font_face(
        family,
        cairo.FONT_SLANT_NORMAL,
        cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL,
    )
    context.set_font_size(32)
    font = context.get_scaled_font()
    glyphs = font.text_to_glyphs(0, 0, text, with_clusters=False)
    return all(glyph[0] != 0 for glyph, char in zip(glyphs, text, strict=False) if char.strip())
