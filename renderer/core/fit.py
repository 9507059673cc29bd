"""Shrink-to-fit and ellipsis for text whose length depends on a merge value.

A text element declares its box on itself::

    <text x="540" y="400" font-size="96" data-fit-width="900" data-min-size="48">
      {{ first_name }}</text>

The font size shrinks until the text is no wider than ``data-fit-width``, measured with the
real font the way CairoSVG will draw it; at ``data-min-size`` the text is cut and ends in "…".
So "Bartholomew-Fitzgerald" never runs off the image.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from renderer.core import fonts
from renderer.core.errors import TemplateError

FIT_WIDTH = "data-fit-width"
MIN_SIZE = "data-min-size"
INHERITED = ("font-family", "font-size", "font-weight", "font-style", "letter-spacing")
DEFAULT_FONT_SIZE = 16.0
_DECLARATION = re.compile(r"\s*([a-z-]+)\s*:\s*([^;]+?)\s*(?:;|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Fitted:
    """What fitting did to one element: for logs, lint and tests."""

    id: str
    text: str
    size: float
    width: float
    ellipsized: bool
    shrunk: bool = False  # drawn smaller than its declared size (to fit, or before the cut)


def fit_text(root: ET.Element) -> list[Fitted]:
    """Fit every element of ``root`` that declares ``data-fit-width``; changes ``root``."""
    parents = {child: parent for parent in root.iter() for child in parent}
    return [_fit(element, parents) for element in root.iter() if element.get(FIT_WIDTH)]


def _fit(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> Fitted:
    style = computed_style(element, parents)
    name = element.get("id") or element.tag.rsplit("}", 1)[-1]
    try:
        box = float(element.get(FIT_WIDTH, ""))
        size = length(style.get("font-size"), DEFAULT_FONT_SIZE)
        min_size = float(element.get(MIN_SIZE) or size / 2)
        spacing = length(style.get("letter-spacing"), 0.0)
    except ValueError:
        raise TemplateError(f"<{name}>: {FIT_WIDTH} and {MIN_SIZE} must be numbers") from None
    family = style.get("font-family", "sans-serif").split(",")[0].strip("\"' ")
    bold = fonts.is_bold(style.get("font-weight"))
    italic = style.get("font-style", "").strip() in ("italic", "oblique")

    text = " ".join("".join(element.itertext()).split())

    def width(candidate: str, at: float) -> float:
        return fonts.text_width(
            candidate, family, at, bold=bold, italic=italic, letter_spacing=spacing
        )

    measured = width(text, size)
    ellipsized = False
    shrunk = measured > box
    if shrunk:
        size = max(min_size, size * box / measured)
        while size > min_size and (measured := width(text, size)) > box:
            size = max(min_size, size * 0.98)  # hinted advances do not scale exactly
        measured = width(text, size)
        if measured > box:
            text, measured = _ellipsize(text, box, lambda s: width(s, size))
            ellipsized = True
            _set_text(element, text)
        _set_font_size(element, size)
    return Fitted(name, text, round(size, 2), round(measured, 1), ellipsized, shrunk)


def _ellipsize(text: str, box: float, width) -> tuple[str, float]:
    """The longest prefix of ``text`` that fits ``box`` with "…" after it (binary search)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if width(text[:middle].rstrip() + fonts.ELLIPSIS) <= box:
            low = middle
        else:
            high = middle - 1
    cut = text[:low].rstrip() + fonts.ELLIPSIS
    return cut, width(cut)


def computed_style(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> dict[str, str]:
    """Font properties from the element and its ancestors; ``style`` beats attributes."""
    chain = [element]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    style: dict[str, str] = {}
    for node in reversed(chain):
        declared = dict(_DECLARATION.findall(node.get("style", "")))
        for name in INHERITED:
            value = declared.get(name) or node.get(name)
            if value:
                style[name] = value.strip()
    return style


def length(value: str | None, default: float) -> float:
    if not value:
        return default
    return float(value.strip().removesuffix("px"))


def _set_text(element: ET.Element, text: str) -> None:
    for child in list(element):
        element.remove(child)
    element.text = text


def _set_font_size(element: ET.Element, size: float) -> None:
    element.set("font-size", f"{size:.2f}")
    style = element.get("style")
    if style and "font-size" in style:
        element.set("style", re.sub(r"font-size\s*:[^;]*", f"font-size:{size:.2f}px", style))
