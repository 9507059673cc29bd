"""Set text as plain SVG: each glyph element becomes a ``<path>`` of its glyph outlines (and a
colour emoji an ``<image>``), so any SVG viewer draws what the renderer drew. For the CLI's
``--svg``; the renderer itself draws glyph elements through cairo (``draw``).

Each path keeps which font and glyphs it came from (``data-font``, ``data-glyphs``).
"""

import base64
import xml.etree.ElementTree as ET
from functools import lru_cache

from renderer.core.text.draw import TAG
from renderer.core.text.fontset import Face, fontset

SVG = "http://www.w3.org/2000/svg"
DRAWING = ("face", "size", "glyphs", "slant", "box")


def export(root: ET.Element) -> None:
    """Replace every glyph element under ``root`` with plain SVG (in place)."""
    for parent in list(root.iter()):
        for index, child in enumerate(list(parent)):
            if child.tag == TAG:
                parent[index] = _plain(child)


def _plain(element: ET.Element) -> ET.Element:
    face = fontset().by_id[element.get("face")]
    scale = float(element.get("size")) / face.upem
    slant = float(element.get("slant", 0))
    attributes = {k: v for k, v in element.attrib.items() if k not in DRAWING}
    attributes.update({"data-font": face.id, "data-glyphs": element.get("glyphs", "")})
    glyphs = [item.split(",") for item in element.get("glyphs", "").split()]
    glyphs = [(int(g), float(x), float(y)) for g, x, y in glyphs]
    if face.color:
        group = ET.Element(f"{{{SVG}}}g", attributes)
        for gid, x, y in glyphs:
            image = _image(face, gid, x, y, scale)
            if image is not None:
                group.append(image)
        return group
    commands = []
    for gid, x, y in glyphs:
        for command, points in _outline(face, gid):
            placed = (
                f"{x + (px + slant * py) * scale:.2f} {y - py * scale:.2f}" for px, py in points
            )
            commands.append(command + " ".join(placed))
    return ET.Element(f"{{{SVG}}}path", {**attributes, "d": "".join(commands) or "M0 0"})


@lru_cache(maxsize=4096)
def _outline(face: Face, gid: int) -> tuple:
    """The glyph's outline in font units, as (command, points) pairs."""
    pen = _Pen()
    face.font.draw_glyph_with_pen(gid, pen)
    return tuple(pen.commands)


class _Pen:
    """HarfBuzz's outline callbacks, kept as SVG path commands."""

    def __init__(self):
        self.commands: list = []

    def moveTo(self, point):
        self.commands.append(("M", (point,)))

    def lineTo(self, point):
        self.commands.append(("L", (point,)))

    def qCurveTo(self, *points):
        self.commands.append(("Q", points))

    def curveTo(self, *points):
        self.commands.append(("C", points))

    def closePath(self):
        self.commands.append(("Z", ()))


def _image(face: Face, gid: int, x: float, y: float, scale: float) -> ET.Element | None:
    png = face.font.get_glyph_color_png(gid)
    if png is None or not len(png.data):
        return None
    extents = face.font.get_glyph_extents(gid)
    return ET.Element(
        f"{{{SVG}}}image",
        {
            "x": f"{x + extents.x_bearing * scale:.2f}",
            "y": f"{y - extents.y_bearing * scale:.2f}",
            "width": f"{extents.width * scale:.2f}",
            "height": f"{-extents.height * scale:.2f}",
            "href": "data:image/png;base64," + base64.b64encode(bytes(png.data)).decode(),
        },
    )
