"""A design tool's SVG export, as it comes, into a template folder the marketer completes.

Figma, Illustrator, Inkscape and Canva export one SVG file. The marketer types
``{{ first_name }}`` into the design and exports; ``mms-renderer import`` then says what the file
holds (merge fields, fonts, effects, how it will be layered) and writes the folder:
the SVG untouched and a manifest whose every guess is marked TODO. A single file has nothing
beside it, so any reference that is not inside the file (``data:`` or ``#id``) is refused, as
are DOCTYPEs and entities.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from renderer.core.catalog import NAME
from renderer.core.errors import RendererError
from renderer.core.guard import HREFS, IMPORT, SVG, URL_FUNCTION
from renderer.core.layers import analyse
from renderer.core.limits import MAX_SVG_BYTES

PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)")
FONT_FAMILY = re.compile(r"font-family\s*:\s*([^;}\"]+)", re.IGNORECASE)
EFFECTS = ("filter", "mask", "clipPath", "pattern", "linearGradient", "radialGradient")
LENGTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(px)?\s*$")


class ImportRefused(RendererError):
    code = "import_refused"


class TemplateExists(ImportRefused):
    code = "template_exists"
    status = 409


@dataclass(frozen=True)
class Found:
    """What an export holds."""

    width: int
    height: int
    fields: tuple[str, ...]  # placeholders, in order of first use
    texts: int  # text elements, with or without a placeholder
    fonts: tuple[str, ...]
    effects: tuple[str, ...]  # e.g. "filter (feGaussianBlur, feOffset)", "mask"
    layering: str  # how it will be drawn: what ``layers.analyse`` says of it

    def lines(self) -> list[str]:
        fields = ", ".join(self.fields) or "none: type {{ first_name }} into a text"
        return [
            f"size {self.width}x{self.height}",
            f"merge fields: {fields} ({self.texts} text elements)",
            f"fonts: {', '.join(self.fonts) or 'none named'}",
            f"effects: {', '.join(self.effects) or 'none'}",
            f"layering: {self.layering}",
        ]


def inspect(data: bytes) -> Found:
    """What ``data`` (an SVG export) holds; ImportRefused when it is not one we can take."""
    if len(data) > MAX_SVG_BYTES:
        raise ImportRefused(f"the SVG is over {MAX_SVG_BYTES:,} bytes")
    try:
        root = fromstring(data, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise ImportRefused("DOCTYPE and entities are not allowed; export without them") from None
    except ET.ParseError as exc:
        raise ImportRefused(f"not an SVG file (not well-formed XML: {exc})") from None
    if root.tag != f"{{{SVG}}}svg":
        raise ImportRefused(f"not an SVG file: the root element is {root.tag}, not <svg>")
    _refuse_outside(root, data.decode("utf-8", "replace"))
    text = data.decode("utf-8", "replace")
    fields = tuple(dict.fromkeys(PLACEHOLDER.findall(text)))
    fonts = [element.get("font-family") for element in root.iter()]
    fonts += FONT_FAMILY.findall(text)
    width, height = _size(root)
    layers = analyse(text)
    return Found(
        width=width,
        height=height,
        fields=fields,
        texts=sum(1 for e in root.iter(f"{{{SVG}}}text")),
        fonts=tuple(dict.fromkeys(f.strip().strip("'\"") for f in fonts if f)),
        effects=_effects(root),
        layering=f"drawn whole for every recipient: {layers.reason}"
        if layers.reason
        else layers.note or "top-level elements: the ones without a field are drawn once",
    )


def write(folder: Path, data: bytes, found: Found, force: bool = False) -> Path:
    """``folder``/template.svg (``data`` as it is) and a manifest skeleton; refuses a folder
    that exists unless ``force``."""
    if not NAME.match(folder.name):
        raise ImportRefused(
            f"template name {folder.name!r}: use lowercase letters, digits, - or _ (--name)"
        )
    if folder.exists() and not force:
        raise TemplateExists(f"{folder} exists; choose another --name or say --force")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "template.svg").write_bytes(data)
    (folder / "manifest.toml").write_text(manifest(folder.name, found))
    return folder


def manifest(name: str, found: Found) -> str:
    """The manifest skeleton: what the SVG says, and TODO where a person must decide."""
    lines = [
        f'name = "{name}"',
        'description = "TODO: what this image is for"',
        f"width = {found.width}",
        f"height = {found.height}",
        'format = "jpg"               # TODO: jpg for photos; png or gif for flat designs',
        'budget = "500KB"             # at most 600KB (the carriers\' cap)',
    ]
    for field in found.fields:
        lines += [
            "",
            f"[fields.{field}]",
            'type = "text"                # TODO: text, int, money, datetime, enum, sku or qr',
            f'sample = "{field}"  # TODO: a realistic value, shown in previews',
            '# extreme = "..."         # TODO: the longest realistic value',
            '# default = "..."         # TODO: give one to make the field optional',
        ]
    return "\n".join(lines) + "\n"


def _refuse_outside(root: ET.Element, text: str) -> None:
    """A lone file has nothing beside it: every reference must be inside it."""
    references = [e.get(h) for e in root.iter() for h in HREFS if e.get(h)]
    references += URL_FUNCTION.findall(text) + IMPORT.findall(text)
    for reference in references:
        reference = reference.strip()
        if not (reference.startswith("#") or reference.lower().startswith("data:")):
            raise ImportRefused(
                f"it refers to {reference[:80]!r} outside the file; embed images "
                "(Figma/Illustrator: export with images embedded) or upload a zip with them"
            )


def _size(root: ET.Element) -> tuple[int, int]:
    view_box = (root.get("viewBox") or "").replace(",", " ").split()
    sizes = []
    for index, attribute in ((2, "width"), (3, "height")):
        match = LENGTH.match(root.get(attribute) or "")
        try:
            if match:
                sizes.append(round(float(match.group(1))))
            elif len(view_box) == 4:
                sizes.append(round(float(view_box[index])))
            else:
                raise ImportRefused(f"the <svg> has no {attribute} in pixels and no viewBox")
        except (ValueError, OverflowError):
            raise ImportRefused(f"the <svg>'s {attribute} is not a number of pixels") from None
    return sizes[0], sizes[1]


def _effects(root: ET.Element) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for kind in EFFECTS:
        for element in root.iter(f"{{{SVG}}}{kind}"):
            inside = sorted({child.tag.split("}")[-1] for child in element})
            found[f"{kind} ({', '.join(inside)})" if kind == "filter" else kind] = None
    for element in root.iter():
        style = element.get("style") or ""
        if "mix-blend-mode" in style or element.get("mix-blend-mode"):
            found["blend mode"] = None
    return tuple(found)
