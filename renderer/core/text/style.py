"""Text style: the properties the text engine reads, with CSS inheritance, in one place.

An SVG element states a property as a presentation attribute (``font-weight="600"``), in its
``style`` attribute (``style="font-weight:600"``, which wins), or through a ``<style>`` rule
(``.st3{font-weight:700}``), which ``cascade.inline`` has written into its ``style``
attribute before the engine reads it; what it does not state it inherits from its parent.
``resolve`` computes one element's style from its parent's; ``computed`` walks an element's
ancestors. Fitting, lint and the layout all read style through here, so they cannot disagree
about what a text looks like.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from renderer.core.cascade import declarations

XML = "{http://www.w3.org/XML/1998/namespace}"
_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(px|pt|pc|mm|cm|in|em|ex|%)?$")
UNITS = {None: 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54,
         "in": 96.0}  # fmt: skip
SIZES = {"xx-small": 9, "x-small": 10, "small": 13, "medium": 16, "large": 18, "x-large": 24,
         "xx-large": 32, "xxx-large": 48}  # fmt: skip
WEIGHTS = {"normal": 400, "bold": 700}
PROPERTIES = (
    "font-family", "font-size", "font-weight", "font-style", "text-anchor", "letter-spacing",
    "word-spacing", "direction", "dominant-baseline",
)  # fmt: skip


class StyleError(ValueError):
    """A property value the engine cannot read (its message names it)."""


@dataclass(frozen=True)
class TextStyle:
    families: tuple[str, ...] = ("sans-serif",)
    size: float = 16.0  # px
    weight: int = 400
    italic: bool = False
    anchor: str = "start"  # start, middle, end
    letter_spacing: float = 0.0  # px
    word_spacing: float = 0.0  # px
    direction: str = "ltr"
    baseline: str = "auto"  # dominant-baseline
    lang: str = ""
    preserve: bool = False  # xml:space="preserve"


ROOT = TextStyle()


def declared(element: ET.Element) -> dict[str, str]:
    """The properties ``element`` itself states: presentation attributes, then ``style``
    (its ``!important`` declarations last, as ``cascade.inline`` writes them)."""
    found = {name: element.get(name).strip() for name in PROPERTIES if element.get(name)}
    stated = declarations(element.get("style", ""))
    found.update((n, v) for n, v, important in stated if n in PROPERTIES and not important)
    found.update((n, v) for n, v, important in stated if n in PROPERTIES and important)
    return found


def resolve(element: ET.Element, parent: TextStyle = ROOT) -> TextStyle:
    """``element``'s style: what it states, the rest inherited from ``parent``. Its font size
    comes first: an ``em`` in its font size is the parent's, in its spacing its own."""
    stated = declared(element)
    changes: dict = {}
    for name, value in sorted(stated.items(), key=lambda item: item[0] != "font-size"):
        if value == "inherit":
            continue
        try:
            context = replace(parent, size=changes["size"]) if "size" in changes else parent
            changes.update(_compute(name, value, context))
        except (ValueError, KeyError):
            raise StyleError(f"{name}: {value!r} is not a value the text engine reads") from None
    space = element.get(f"{XML}space")
    if space:
        changes["preserve"] = space == "preserve"
    lang = element.get(f"{XML}lang") or element.get("lang")
    if lang:
        changes["lang"] = lang
    return replace(parent, **changes) if changes else parent


def computed(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> TextStyle:
    """``element``'s style with everything it inherits from its ancestors."""
    chain = [element]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    style = ROOT
    for node in reversed(chain):
        style = resolve(node, style)
    return style


def length(value: str | None, default: float, em: float = 16.0) -> float:
    """A CSS length in px (``12``, ``12px``, ``9pt``, ``1.5em``); ``default`` when absent."""
    if value is None or not value.strip():
        return default
    match = _LENGTH.match(value.strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a length")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "em":
        return number * em
    if unit == "ex":
        return number * em / 2
    if unit == "%":
        return number * em / 100
    return number * UNITS[unit]


def first(value: str | None) -> str | None:
    """The first of a list of values (``x="10 20 30"``): the engine positions runs, not
    single characters."""
    if value is None:
        return None
    parts = value.replace(",", " ").split()
    return parts[0] if parts else None


def _compute(name: str, value: str, parent: TextStyle) -> dict:
    lowered = value.lower()
    if name == "font-family":
        families = tuple(f.strip().strip("\"'").strip() for f in value.split(","))
        return {"families": tuple(f for f in families if f) or parent.families}
    if name == "font-size":
        if lowered in SIZES:
            return {"size": float(SIZES[lowered])}
        if lowered in ("smaller", "larger"):
            return {"size": parent.size * (1.2 if lowered == "larger" else 1 / 1.2)}
        return {"size": length(value, parent.size, parent.size)}
    if name == "font-weight":
        return {"weight": _weight(lowered, parent.weight)}
    if name == "font-style":
        return {"italic": lowered in ("italic", "oblique") or lowered.startswith("oblique ")}
    if name in ("letter-spacing", "word-spacing"):
        spacing = 0.0 if lowered == "normal" else length(value, 0.0, parent.size)
        return {name.replace("-", "_"): spacing}
    if name == "text-anchor":
        return {"anchor": {"start": "start", "middle": "middle", "end": "end"}[lowered]}
    if name == "direction":
        return {"direction": {"ltr": "ltr", "rtl": "rtl"}[lowered]}
    return {"baseline": lowered}  # dominant-baseline: layout reads the keyword


def _weight(value: str, parent: int) -> int:
    """CSS font-weight: a number from 1 to 1000, normal, bold, or relative to the parent."""
    if value in WEIGHTS:
        return WEIGHTS[value]
    if value == "bolder":
        return 400 if parent < 350 else 700 if parent < 550 else 900
    if value == "lighter":
        return 100 if parent < 550 else 400 if parent < 750 else 700
    weight = round(float(value))
    if not 1 <= weight <= 1000:
        raise ValueError(value)
    return weight
