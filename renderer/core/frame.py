"""A frame group around everything, as Figma exports it, taken apart when that changes nothing.

Figma wraps a frame's content in ``<g clip-path="url(#clip0_1_2)">`` whose clip path is the
frame's rectangle. Layering splits a template by its top-level elements, so one such group
would make the whole image one dynamic run, redrawn for every recipient. When the group does
nothing but clip, and its clip path is one rectangle (no transform) that covers the whole
canvas (the ``viewBox``, else ``width`` x ``height``), the clip removes nothing that would be
seen, so the group's children drawn in its place make the same picture: ``unwrap`` removes
the group's start and end tags from the source (everything else stays byte for byte). Any
other wrapping group is left alone, and ``unwrap`` says why.
"""

import copy
import re
import xml.etree.ElementTree as ET
import xml.parsers.expat

from renderer.core.cascade import inline, stylesheet

SVG = "http://www.w3.org/2000/svg"
G, CLIP_PATH, RECT = f"{{{SVG}}}g", f"{{{SVG}}}clipPath", f"{{{SVG}}}rect"
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
CLIP = re.compile(r"^\s*url\(\s*['\"]?#([^'\")]+)['\"]?\s*\)\s*$")


def unwrap(body: str, root: ET.Element, drawn: list[ET.Element]) -> tuple[str, str]:
    """(``body`` without the frame group's tags, what was done) when ``drawn`` (the root's
    children that are drawn, not definitions) is one group that only clips to the canvas;
    (``body``, why not) for a lone group that cannot be taken apart; (``body``, "") else."""
    if len(drawn) != 1 or drawn[0].tag != G or not len(drawn[0]):
        return body, ""
    group = drawn[0]
    why = _why_not(group, root)
    if why:
        return body, f"one group wraps everything and stays whole: {why}"
    start, end = _group_tags(body.encode(), list(root).index(group))
    data = body.encode()
    open_end = data.index(b">", start) + 1
    close_end = data.index(b">", end) + 1
    unwrapped = (data[:start] + data[open_end:end] + data[close_end:]).decode()
    if not _same_styles(root, ET.fromstring(unwrapped), group):
        return body, "one group wraps everything and stays whole: CSS selects through it"
    return unwrapped, f"the frame group {CLIP.match(group.get('clip-path'))[0]!r} " \
        "clips to the whole canvas: its children are layered"  # fmt: skip


def _same_styles(root: ET.Element, unwrapped: ET.Element, group: ET.Element) -> bool:
    """Whether every element is styled the same without the group (``g text`` would not)."""
    if not stylesheet(root).strip():
        return True
    before, after = copy.deepcopy(root), copy.deepcopy(unwrapped)
    inline(before)
    inline(after)
    index = list(root.iter()).index(group)
    styles = [e.get("style") for i, e in enumerate(before.iter()) if i != index]
    return styles == [e.get("style") for e in after.iter()]


def _why_not(group: ET.Element, root: ET.Element) -> str:
    extra = sorted(set(group.attrib) - {"clip-path"})
    if extra:
        return f"it sets {', '.join(extra)}"
    match = CLIP.match(group.get("clip-path", ""))
    if not match:
        return "it does not clip"
    clip = next((e for e in root.iter(CLIP_PATH) if e.get("id") == match[1]), None)
    if clip is None or len(clip) != 1 or clip[0].tag != RECT:
        return "its clip path is not one rectangle"
    rect = clip[0]
    if (
        clip.get("transform")
        or rect.get("transform")
        or (clip.get("clipPathUnits", "userSpaceOnUse") != "userSpaceOnUse")
    ):
        return "its clip path is transformed"
    try:
        x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
        width, height = float(rect.get("width", 0)), float(rect.get("height", 0))
    except ValueError:
        return "its clip rectangle's size varies"
    left, top, right, bottom = _canvas(root)
    if x > left or y > top or x + width < right or y + height < bottom:
        return "its clip rectangle is smaller than the canvas"
    return ""


def _canvas(root: ET.Element) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in NUMBER.findall(root.get("viewBox", ""))]
    if len(numbers) == 4:
        return numbers[0], numbers[1], numbers[0] + numbers[2], numbers[1] + numbers[3]
    sizes = [NUMBER.match(root.get(name, "") or "") for name in ("width", "height")]
    if all(sizes):
        return 0.0, 0.0, float(sizes[0][0]), float(sizes[1][0])
    return 0.0, 0.0, float("inf"), float("inf")  # no size: nothing covers it


def _group_tags(data: bytes, index: int) -> tuple[int, int]:
    """Byte offsets of the start tag and of the end tag of the root's ``index``-th child."""
    parser = xml.parsers.expat.ParserCreate()
    depth, seen, found = 0, -1, [0, 0]

    def start(name, attributes):
        nonlocal depth, seen
        depth += 1
        if depth == 2:
            seen += 1
            if seen == index:
                found[0] = parser.CurrentByteIndex

    def end(name):
        nonlocal depth
        if depth == 2 and seen == index:
            found[1] = parser.CurrentByteIndex
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return found[0], found[1]
