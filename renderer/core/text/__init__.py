"""The text engine: every ``<text>`` of a filled template shaped, fitted and drawn as glyphs.

CairoSVG still rasterizes the image; only its text drawing is replaced. Per text element:
``style`` reads its font properties (with inheritance), ``runs`` splits it by direction
(``bidi``, GNU FriBidi), script and font (``fontset``: the bundled fonts, matched by family,
weight and style, with a fallback chain by coverage) and shapes each run with HarfBuzz,
``lines`` measures, wraps, fits and cuts it, and ``layout`` puts glyph elements where it was,
which ``draw`` teaches CairoSVG to draw from cached outlines and colour emoji bitmaps.
"""

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Iterable

import renderer.core.text.draw  # noqa: F401 (registers the glyph element with CairoSVG)
from renderer.core import transform
from renderer.core.cascade import inline
from renderer.core.errors import TemplateError
from renderer.core.text.export import export
from renderer.core.text.fontset import fontset
from renderer.core.text.layout import FIT_WIDTH, MAX_LINES, MIN_SIZE, Fitted, set_text
from renderer.core.text.lines import ELLIPSIS, measure
from renderer.core.text.runs import Span, itemize
from renderer.core.text.style import ROOT, TextStyle, resolve

__all__ = [
    "ELLIPSIS", "FIT_WIDTH", "MAX_LINES", "MIN_SIZE", "Fitted", "TextStyle", "export", "fontset",
    "typeset", "width",
]  # fmt: skip

TEXT = "{http://www.w3.org/2000/svg}text"


def typeset(root: ET.Element, within: Iterable[ET.Element] | None = None) -> list[Fitted]:
    """Lay out every ``<text>`` of ``root`` (only those inside the top-level elements
    ``within``, when given) and replace each with its glyphs; what was done to each. The
    tree's ``<style>`` rules are written into its elements first (``cascade.inline``); each
    box is where the text lands on the image (through its and its ancestors' transforms)."""
    inline(root, texts_only=True)
    parents = {child: parent for parent in root.iter() for child in parent}
    scope = list(within) if within is not None else [root]
    texts = [
        element
        for top in scope
        for element in top.iter(TEXT)
        if not any(a.tag == TEXT for a in _ancestors(element, parents))
    ]
    done = []
    styles: dict = {}  # the ancestors' styles, each computed once
    for element in texts:
        try:
            style = _style(element, parents, styles)
            matrix = transform.of(element, parents)
            fitted = set_text(element, style, parents.get(element))
            if fitted.box is not None and matrix != transform.IDENTITY:  # on the image
                fitted = dataclasses.replace(fitted, box=transform.box(matrix, fitted.box))
            done.append(fitted)
        except ValueError as exc:  # a style or a position the engine cannot read
            name = element.get("id") or "text"
            raise TemplateError(f"<text id={name!r}>: {exc}") from None
    return done


def width(string: str, style: TextStyle) -> float:
    """The advance width in px of ``string`` set in ``style``, as the engine draws it."""
    paragraph = itemize(string, [Span(style)], [0] * len(string), style.direction == "rtl")
    return measure(paragraph, 0, len(string), 1.0)


def _style(element: ET.Element, parents: dict, styles: dict) -> TextStyle:
    """``element``'s computed style (``style.computed``), reusing its ancestors' from
    ``styles``."""
    found = styles.get(element)
    if found is None:
        parent = parents.get(element)
        inherited = _style(parent, parents, styles) if parent is not None else ROOT
        found = styles[element] = resolve(element, inherited)
    return found


def _ancestors(element: ET.Element, parents: dict[ET.Element, ET.Element]):
    while element in parents:
        element = parents[element]
        yield element
