"""Parse a filled SVG and refuse what could read, fetch or burn more than it should.

Runs on every filled SVG before CairoSVG sees it: a merge value is escaped, but a template
author (or a value put in an ``href``) could still point at ``file:///etc/passwd``, a URL,
a ``../`` escape, an entity bomb, a 100000 px canvas or a ``<use>`` chain that doubles at
every level. The rasterizer's url_fetcher refuses the same references again, as a second wall.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from renderer.core import limits
from renderer.core.errors import TemplateError

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
HREFS = ("href", f"{{{XLINK}}}href")
URL_FUNCTION = re.compile(r"url\(\s*['\"]?([^'\")]*)['\"]?\s*\)", re.IGNORECASE)
IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)", re.IGNORECASE)
DATA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
_UNIT_PX = {
    "": 1.0,
    "px": 1.0,
    "pt": 4 / 3,
    "pc": 16.0,
    "in": 96.0,
    "cm": 96 / 2.54,
    "mm": 9.6 / 2.54,
}

ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)


def parse(svg: str, has_file: Callable[[str], bool]) -> ET.Element:
    """The checked element tree of a filled SVG; TemplateError saying what was refused.

    ``has_file`` answers whether a relative path names a file of the template's folder.
    """
    if len(svg.encode()) > limits.MAX_SVG_BYTES:
        raise TemplateError(f"SVG is over {limits.MAX_SVG_BYTES:,} bytes")
    try:
        root = fromstring(svg, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise TemplateError("DOCTYPE and entities are not allowed in an SVG template") from None
    except ET.ParseError as exc:
        raise TemplateError(f"not well-formed XML: {exc}", line=exc.position[0]) from None
    if root.tag != f"{{{SVG}}}svg":
        raise TemplateError(f"the root element must be <svg> in the SVG namespace, not {root.tag}")
    _check_size(root)
    _check_depth(root)
    elements = list(root.iter())
    if len(elements) > limits.MAX_ELEMENTS:
        raise TemplateError(f"{len(elements):,} elements; at most {limits.MAX_ELEMENTS:,}")
    for element in elements:
        for reference in references(element):
            check_reference(reference, has_file)
    _check_uses(root, elements)
    return root


def references(element: ET.Element) -> list[str]:
    """Every URL an element can make CairoSVG fetch: hrefs, ``url(...)``, ``@import``."""
    found = [element.get(name) for name in HREFS if element.get(name)]
    for name, value in element.attrib.items():
        if name not in HREFS and "url(" in value.lower():
            found += URL_FUNCTION.findall(value)
    if element.tag == f"{{{SVG}}}style" and element.text:
        found += URL_FUNCTION.findall(element.text) + IMPORT.findall(element.text)
    return [ref.strip() for ref in found if ref.strip()]


def check_reference(reference: str, has_file: Callable[[str], bool]) -> None:
    """Allow ``#id``, ``data:`` images and files of the template's folder; refuse the rest."""
    if reference.startswith("#"):
        return
    if reference.lower().startswith("data:"):
        media = reference[5:].split(",", 1)[0].split(";", 1)[0].lower()
        if media not in DATA_TYPES:
            raise TemplateError(f"data: URI of type {media or 'text/plain'!r} is not an image")
        return
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc:
        raise TemplateError(
            f"external reference {reference[:80]!r} is not allowed; "
            "put the file in the template folder and refer to it by relative path"
        )
    path = PurePosixPath(unquote(parts.path))
    if path.is_absolute() or ".." in path.parts:
        raise TemplateError(f"reference {reference[:80]!r} leaves the template folder")
    if not has_file(path.as_posix()):
        raise TemplateError(f"reference {reference[:80]!r}: no such file in the template folder")


def _check_size(root: ET.Element) -> None:
    for name in ("width", "height"):
        value = root.get(name)
        if value is None or value.strip().endswith("%"):
            continue
        match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([a-z]*)\s*", value)
        try:
            pixels = float(match.group(1)) * _UNIT_PX[match.group(2)] if match else None
        except (KeyError, ValueError):
            pixels = None
        if pixels is None:
            raise TemplateError(f"<svg {name}={value!r}> is not a length")
        if not 0 < pixels <= limits.MAX_SVG_SIDE:
            raise TemplateError(
                f"<svg {name}={value!r}> is {pixels:,.0f} px; at most {limits.MAX_SVG_SIDE} px"
            )


def _check_depth(root: ET.Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limits.MAX_NESTING:
            raise TemplateError(f"elements nest over {limits.MAX_NESTING} deep")
        stack.extend((child, depth + 1) for child in element)


def _check_uses(root: ET.Element, elements: list[ET.Element]) -> None:
    """Bound how deep ``<use>`` nests and how many elements it expands to (CairoSVG does not)."""
    by_id = {el.get("id"): el for el in elements if el.get("id")}
    expanded: dict[int, tuple[int, int]] = {}  # id(element) -> (depth, element count)
    visiting: set[int] = set()

    def measure(element: ET.Element) -> tuple[int, int]:
        key = id(element)
        if key in expanded:
            return expanded[key]
        if key in visiting:
            raise TemplateError(f"<use> refers to itself through #{element.get('id')}")
        visiting.add(key)
        depth, count = 0, 1
        target = _use_target(element, by_id)
        if target is not None:
            inner_depth, inner_count = measure(target)
            depth, count = inner_depth + 1, count + inner_count
        for child in element:
            child_depth, child_count = measure(child)
            depth, count = max(depth, child_depth), count + child_count
        if depth > limits.MAX_USE_DEPTH:
            raise TemplateError(f"<use> nests {depth} deep; at most {limits.MAX_USE_DEPTH}")
        if count > limits.MAX_ELEMENTS:
            raise TemplateError(
                f"<use> expands to over {limits.MAX_ELEMENTS:,} elements; simplify the SVG"
            )
        visiting.discard(key)
        expanded[key] = (depth, count)
        return depth, count

    measure(root)


def _use_target(element: ET.Element, by_id: dict[str | None, ET.Element]) -> ET.Element | None:
    if element.tag != f"{{{SVG}}}use":
        return None
    href = next((element.get(name) for name in HREFS if element.get(name)), "")
    return by_id.get(href[1:]) if href.startswith("#") else None
