"""Parse a filled SVG and refuse what could read, fetch or burn more than it should.

Runs on every filled SVG before CairoSVG sees it: a merge value is escaped, but a template
author (or a value put in an ``href``) could still point at ``file:///etc/passwd``, a URL,
a ``../`` escape, an entity bomb, a 100000 px canvas, or draw far more than it shows. So
the guard also prices the drawing before it happens (``draw_cost``): CairoSVG draws a
``<use>``'s target, a pattern, a mask or a clip path again at every use, a marker at every
vertex, a nested SVG image whole, and lays text out character by character, so a few
hundred bytes that fan out (a pattern of patterns, 14 levels deep) would keep a core busy
for minutes. An SVG that costs over ``MAX_DRAW_COST`` is refused before anything is drawn.
Every image is sized from its header before it is decoded (``image_cost``). The
rasterizer's url_fetcher refuses the same references, and checks the same images, again.
"""

import base64
import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from cachetools import LRUCache
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring
from PIL import Image

from renderer.core import limits
from renderer.core.errors import TemplateError

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
HREFS = ("href", f"{{{XLINK}}}href")
URL_FUNCTION = re.compile(r"url\(\s*['\"]?([^'\")]*)['\"]?\s*\)", re.IGNORECASE)
IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)", re.IGNORECASE)
DATA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
STYLE, MARKER = f"{{{SVG}}}style", f"{{{SVG}}}marker"
TEXTS = {"text", "tspan", "textPath", "a"}
MARKED = {"path", "line", "polyline", "polygon"}
DRAWN = {"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", *TEXTS, "image"}
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
DEFINITIONS = {
    f"{{{SVG}}}{tag}"
    for tag in (
        "defs", "clipPath", "mask", "marker", "pattern", "symbol", "linearGradient",
        "radialGradient", "filter", "style", "title", "desc", "metadata",
    )
}  # fmt: skip
CSS_MATCHES_PER_UNIT = 50  # an element checked against a <style> rule
_image_costs: LRUCache = LRUCache(maxsize=256)  # digest -> cost, or why it is refused
_lock = threading.Lock()
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


def parse(svg: str | bytes, assets: Mapping[str, int], nested: bool = False) -> ET.Element:
    """The checked element tree of a filled SVG; TemplateError saying what was refused.

    ``assets`` are the files of the template's folder, each with what drawing it as an
    image costs (``image_cost``). A ``nested`` SVG (an image inside the template) may not
    hold SVG images of its own.
    """
    return checked(svg, assets, nested)[0]


def checked(
    svg: str | bytes, assets: Mapping[str, int], nested: bool = False
) -> tuple[ET.Element, int]:
    """``parse``, and what drawing the tree costs (``draw_cost``)."""
    if len(svg.encode() if isinstance(svg, str) else svg) > limits.MAX_SVG_BYTES:
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
            check_reference(reference, assets)
    cost = draw_cost(root, elements, lambda ref: _reference_cost(ref, assets, nested))
    if cost > limits.MAX_DRAW_COST:
        raise TemplateError(_over(cost))
    return root, cost


def references(element: ET.Element) -> list[str]:
    """Every URL an element can make CairoSVG fetch: hrefs, ``url(...)``, ``@import``."""
    found = [element.get(name) for name in HREFS if element.get(name)]
    for name, value in element.attrib.items():
        if name not in HREFS and "url(" in value.lower():
            found += URL_FUNCTION.findall(value)
    if element.tag == f"{{{SVG}}}style" and element.text:
        found += URL_FUNCTION.findall(element.text)
        found += ["@import " + target for target in IMPORT.findall(element.text)]
    return [ref.strip() for ref in found if ref.strip()]


def check_reference(reference: str, assets: Mapping[str, int]) -> None:
    """Allow ``#id``, ``data:`` images and files of the template's folder; refuse the rest."""
    if reference.startswith("#"):
        return
    if reference.lower().startswith(("@import", "import:")):
        raise TemplateError("@import is not allowed; put the CSS in a <style> element")
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
    if path.as_posix() not in assets:
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


def draw_cost(root: ET.Element, elements: list[ET.Element], image_cost) -> int:
    """What drawing ``root`` costs, in elements drawn (see ``limits.MAX_DRAW_COST``), counted
    until it is over the limit; ``image_cost(reference)`` prices an image or external use.

    TemplateError when references loop or nest over ``MAX_REFERENCE_DEPTH``.
    """
    by_id = {el.get("id"): el for el in elements if el.get("id")}
    css = "".join(el.text or "" for el in elements if el.tag == STYLE)
    styled = [by_id[ref[1:]] for ref in URL_FUNCTION.findall(css) if ref[1:] in by_id]
    measured: dict[int, tuple[int, int]] = {}  # id(element) -> (depth, cost)
    visiting: set[int] = set()

    def measure(element: ET.Element) -> tuple[int, int]:
        key = id(element)
        if key in measured:
            return measured[key]
        if key in visiting:
            raise TemplateError(f"#{element.get('id')} refers to itself")
        visiting.add(key)
        depth, cost = 0, 1 + _text_cost(element)
        for target, times in _targets(element, by_id, styled):
            if isinstance(target, str):  # an image, or a <use> of another file
                cost += image_cost(target)
                continue
            inner_depth, inner_cost = measure(target)
            depth, cost = max(depth, inner_depth + 1), cost + times * inner_cost
        for child in element:
            if child.tag in DEFINITIONS:  # drawn where it is used, only parsed here
                cost += sum(1 for _ in child.iter())
                continue
            child_depth, child_cost = measure(child)
            depth, cost = max(depth, child_depth), cost + child_cost
            if cost > limits.MAX_DRAW_COST:
                break
        if depth > limits.MAX_REFERENCE_DEPTH:
            raise TemplateError(
                f"references nest {depth} deep (<use>, patterns, masks, markers); "
                f"at most {limits.MAX_REFERENCE_DEPTH}"
            )
        visiting.discard(key)
        measured[key] = (depth, cost)
        return depth, cost

    rules = css.count("{")
    return measure(root)[1] + len(elements) * rules // CSS_MATCHES_PER_UNIT


def _targets(element: ET.Element, by_id: dict, styled: list[ET.Element]):
    """(what an element draws again, how many times): a referenced element, or the reference
    itself (a str) for an image or a file."""
    tag = element.tag.rpartition("}")[2]
    href = next((element.get(name) for name in HREFS if element.get(name)), "")
    if href.startswith("#"):  # <use>, textPath, a gradient or pattern that inherits
        if href[1:] in by_id:
            yield by_id[href[1:]], 1
    elif href and tag in ("use", "image"):
        yield href, 1
    vertices = _vertices(element) if tag in MARKED else 0
    for name, value in element.attrib.items():
        if "url(" not in value:
            continue
        times = vertices if "marker" in name or "marker" in value else 1
        for ref in URL_FUNCTION.findall(value):
            if ref.startswith("#") and ref[1:] in by_id:
                yield by_id[ref[1:]], times
    if tag in DRAWN:  # a <style> rule may apply any of its references to any element
        for target in styled:
            yield target, vertices if target.tag == MARKER else 1


def _vertices(element: ET.Element) -> int:
    data = element.get("d") or element.get("points") or ""
    return max(2, len(NUMBER.findall(data)) // 2)


def _text_cost(element: ET.Element) -> int:
    if element.tag.rpartition("}")[2] not in TEXTS:
        return 0
    chars = len(element.text or "") + sum(len(child.tail or "") for child in element)
    return chars // limits.TEXT_CHARS_PER_UNIT


def _over(cost: int) -> str:
    return (
        f"drawing it costs over {limits.MAX_DRAW_COST:,} elements (counting each reuse by "
        "<use>, patterns, masks, clip paths, markers and nested images, text and image pixels)"
        "; simplify it"
    )


def _reference_cost(reference: str, assets: Mapping[str, int], nested: bool) -> int:
    """What drawing an image (or a <use> of a file) costs."""
    if reference.lower().startswith("data:"):
        return image_cost(data_uri(reference), allow_svg=not nested)
    path = PurePosixPath(unquote(urlsplit(reference).path)).as_posix()
    return assets.get(path, 1)


def data_uri(reference: str) -> bytes:
    """The bytes of a ``data:`` image; TemplateError if it is not one."""
    header, _, payload = reference[5:].partition(",")
    media = header.split(";", 1)[0].lower()
    if media not in DATA_TYPES:
        raise TemplateError(f"data: URI of type {media!r} is not an image")
    try:
        if header.lower().endswith(";base64"):
            return base64.b64decode(payload, validate=False)
        return unquote_to_bytes(payload)
    except ValueError:
        raise TemplateError("data: URI is not valid base64") from None


def image_cost(data: bytes, allow_svg: bool = True) -> int:
    """What drawing ``data`` as an image costs, from its header: a raster image is refused
    over ``MAX_IMAGE_PIXELS`` before anything decodes it, an SVG image is guarded like the
    template (and may hold no SVG image itself). Remembered by digest: a template draws the
    same image again and again."""
    digest = hashlib.sha256(data).digest() + bytes([allow_svg])
    with _lock:
        known = _image_costs.get(digest)
    if known is None:
        known = _measure_image(data, allow_svg)
        with _lock:
            _image_costs[digest] = known
    if isinstance(known, str):
        raise TemplateError(known)
    return known


def _measure_image(data: bytes, allow_svg: bool) -> int | str:
    """The cost of an image, or why it is refused."""
    if b"<svg" in data and not data.startswith(b"\x89PNG"):  # as CairoSVG tells an SVG
        if not allow_svg:
            return "an SVG image may not hold SVG images itself"
        try:
            return checked(data, {}, nested=True)[1]
        except TemplateError as exc:
            return f"SVG image: {exc.message}"
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own wall, far above ours
        return f"image is over {limits.MAX_IMAGE_PIXELS / 1e6:.1f} Mpx"
    except (OSError, ValueError) as exc:
        return f"not a readable image: {exc}"
    if width * height > limits.MAX_IMAGE_PIXELS:
        return (
            f"image is {width}x{height} px ({width * height / 1e6:.1f} Mpx); "
            f"at most {limits.MAX_IMAGE_PIXELS / 1e6:.1f} Mpx"
        )
    return 1 + width * height // limits.IMAGE_PIXELS_PER_UNIT
