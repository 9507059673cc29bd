"""How a template is drawn: its top-level elements split into static and dynamic runs.

At load, the template's top-level elements are split, in document order, into runs: static
runs (no Jinja expression, no live value, nothing they refer to that varies), drawn once per
template version (``compose.prepare``), and dynamic runs (anything that depends on values or
time, or marked ``data-dynamic``), filled and drawn per image. Definitions (``<defs>``,
gradients, ``<style>``) travel with every run. A template whose source is not XML as written
(a ``<`` inside a Jinja expression), whose root element or ``<style>`` varies, whose CSS
selects by siblings (``+``, ``~``, ``:nth-child``: a run drawn alone has other siblings), or
that refers across runs by id renders whole instead; ``Layers.reason`` says why. Descendant,
class, id and type selectors match the same in a run as in the whole (``cascade``).
"""

import re
import threading
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass, field

import cairocffi as cairo
from cachetools import LRUCache
from PIL import Image

from renderer.core.cascade import structural, stylesheet
from renderer.core.frame import unwrap
from renderer.core.guard import SVG, references

MARK = "data-layer"
SEEN_BYTES = 4_000_000  # filled dynamic runs remembered, per template version
PIECE_BYTES = 32_000_000  # dynamic runs kept drawn, per template version
JINJA = re.compile(r"\{[{%#]")
BLOCK_OPEN = re.compile(r"\{%-?\s*(if|for|with|filter|macro|call|block|raw)\b")
BLOCK_CLOSE = re.compile(r"\{%-?\s*end\w+")
SHARED_TAGS = {
    f"{{{SVG}}}{name}"
    for name in (
        "defs", "style", "linearGradient", "radialGradient", "pattern", "clipPath", "mask",
        "filter", "symbol", "marker",
    )
}  # fmt: skip


@dataclass
class Run:
    static: bool
    marks: frozenset[str]  # the data-layer values of its top-level elements
    surface: cairo.ImageSurface | None = None  # static runs: drawn once
    box: tuple[int, int, int, int] | None = None  # static runs: where they have pixels


@dataclass
class Layers:
    """How one template version is drawn: layered (runs) or whole (reason says why)."""

    source: str  # the template source with data-layer marks (or as it was, if whole)
    runs: list[Run] = field(default_factory=list)
    reason: str = ""
    note: str = ""  # a frame group around everything: taken apart, or why not (``frame``)
    redrawn: float = 1.0  # share of the image's area the dynamic runs draw on (at load)
    opaque: bool = False  # the first run covers every pixel: the result needs no alpha
    static: Image.Image | None = field(default=None, repr=False)  # no dynamic run drawn
    # filled dynamic runs seen once (-> their size), and those seen again with their drawn
    # pieces: both bounded by bytes, whatever the runs weigh
    seen: LRUCache = field(
        default_factory=lambda: LRUCache(maxsize=SEEN_BYTES, getsizeof=lambda size: size + 100),
        repr=False,
    )
    pieces: LRUCache = field(
        default_factory=lambda: LRUCache(maxsize=PIECE_BYTES, getsizeof=_piece_bytes),
        repr=False,
    )
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def layered(self) -> bool:
        return not self.reason


def analyse(source: str) -> Layers:
    """Split ``source`` into static and dynamic runs of top-level elements (no drawing yet)."""
    start = source.find("<svg")
    if start < 0:
        return Layers(source, reason="no <svg> root element")
    body = source[start:]
    try:
        positions = _top_level_starts(body.encode())
        root = ET.fromstring(body)
    except (xml.parsers.expat.ExpatError, ET.ParseError):
        return Layers(source, reason="the source is not XML as written (a '<' inside Jinja?)")
    root_tag = body[: body.index(">") + 1]
    if JINJA.search(root_tag):
        return Layers(source, reason="the <svg> element's attributes vary")
    split, note = unwrap(body, root, [c for c in root if c.tag not in SHARED_TAGS])
    if split != body:
        body, positions, root = split, _top_level_starts(split.encode()), ET.fromstring(split)
    children = list(root)
    if len(children) != len(positions):
        return Layers(source, reason="could not locate the top-level elements")

    sibling = structural(stylesheet(root))
    if sibling:
        return Layers(source, reason=f"the CSS selector {sibling!r} depends on siblings")
    between = [root.text or "", *(child.tail or "" for child in children)]
    if any("{{" in text for text in between):
        return Layers(source, reason="a {{ }} expression outside any element (wrap it in <g>)")
    dynamic_ids: set[str] = set()
    kinds: list[str] = []  # "shared", "static" or "dynamic" per top-level element
    depth = _block_depth(root.text or "", 0)
    for child in children:
        text = ET.tostring(child, encoding="unicode")
        varies = depth > 0 or bool(JINJA.search(text)) or "data-dynamic" in text
        if child.tag in SHARED_TAGS:
            if child.tag == f"{{{SVG}}}style" and varies:
                return Layers(source, reason="a <style> element varies")
            kinds.append("shared")
            if varies:
                dynamic_ids |= {el.get("id") for el in child.iter() if el.get("id")}
        else:
            kinds.append("dynamic" if varies else "static")
        depth = _block_depth(child.tail or "", depth)

    # static elements that use a varying definition are dynamic too
    for index, child in enumerate(children):
        if kinds[index] == "static" and _refers_to(child, dynamic_ids):
            kinds[index] = "dynamic"
    # an element drawn in one run cannot be referred to from another
    drawn_ids = {
        el.get("id"): index
        for index, child in enumerate(children)
        if kinds[index] != "shared"
        for el in child.iter()
        if el.get("id")
    }
    runs = _runs(kinds, children)
    for index, child in enumerate(children):
        for ref in (r for el in child.iter() for r in references(el)):
            target = drawn_ids.get(ref.lstrip("#").split(")")[0])
            if target is not None and _run_of(runs, target) is not _run_of(runs, index):
                return Layers(
                    source, reason=f"an element refers to #{ref.lstrip('#')} in another run"
                )

    marked = bytearray(body.encode())
    for index, position in reversed(list(enumerate(positions))):
        name = re.match(rb"<([^\s/>]+)", marked[position:]).group(1)
        insert_at = position + 1 + len(name)
        marked[insert_at:insert_at] = f' {MARK}="{index}"'.encode()
    return Layers(source[:start] + marked.decode(), runs, note=note)


def _runs(kinds: list[str], children: list[ET.Element]) -> list[Run]:
    """Static neighbours share a run (drawn once anyway). Each dynamic element is a run of its
    own, so that one that recurs (a campaign's code, a countdown's still lines) is kept drawn
    while its neighbour changes, and only the rows each one touches are redrawn; dynamic
    neighbours that refer to each other by id stay together."""
    runs: list[Run] = []
    previous = None
    for index, kind in enumerate(kinds):
        if kind == "shared":
            continue
        static = kind == "static"
        joined = previous is not None and runs[-1].static == static
        if joined and not static:
            joined = _linked(children[previous], children[index])
        if joined:
            runs[-1].marks = runs[-1].marks | {str(index)}
        else:
            runs.append(Run(static, frozenset({str(index)})))
        previous = index
    return runs


def _run_of(runs: list[Run], index: int) -> Run | None:
    return next((run for run in runs if str(index) in run.marks), None)


def _linked(one: ET.Element, other: ET.Element) -> bool:
    """Whether either element refers by id to something the other defines."""
    ids = [{el.get("id") for el in element.iter() if el.get("id")} for element in (one, other)]
    return _refers_to(one, ids[1]) or _refers_to(other, ids[0])


def _refers_to(element: ET.Element, ids: set[str]) -> bool:
    return any(ref.lstrip("#") in ids for el in element.iter() for ref in references(el))


def _block_depth(text: str, depth: int) -> int:
    """Jinja block depth after ``text``: elements inside an ``{% if %}`` are dynamic."""
    for match in re.finditer(r"\{%-?\s*(\w+)", text):
        if BLOCK_OPEN.match(match.group(0)):
            depth += 1
        elif BLOCK_CLOSE.match(match.group(0)):
            depth -= 1
    return depth


def _top_level_starts(data: bytes) -> list[int]:
    """Byte offsets of the ``<`` of every child of the root element, in order."""
    parser = xml.parsers.expat.ParserCreate()
    depth, starts = 0, []

    def start(name, attributes):
        nonlocal depth
        depth += 1
        if depth == 2:
            starts.append(parser.CurrentByteIndex)

    def end(name):
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return starts


def _piece_bytes(piece) -> int:
    """The pixels a kept piece holds (a ``compose.Drawn``; its box is where they are)."""
    if piece.box is None:
        return 100
    left, top, right, bottom = piece.box
    return 4 * (right - left) * (bottom - top) + 100
