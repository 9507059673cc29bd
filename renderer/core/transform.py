"""SVG ``transform`` lists as affine matrices, and a box carried through them.

Design tools place text with transforms (Illustrator: ``transform="matrix(1 0 0 1 80 300)"``
on every ``<text>``; groups translated and scaled), so a text's box as laid out is in its own
coordinates; lint and the studio need it on the image. Matrices are ``(a, b, c, d, e, f)``
as in SVG: x' = a*x + c*y + e, y' = b*x + d*y + f.
"""

import math
import re
import xml.etree.ElementTree as ET

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_FUNCTION = re.compile(r"\s*,?\s*([a-zA-Z]+)\s*\(([^)]*)\)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def multiply(m: Matrix, n: Matrix) -> Matrix:
    """``m`` then ``n`` applied inside it (m x n)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)  # fmt: skip


def parse(value: str | None) -> Matrix:
    """The matrix of a ``transform`` attribute; ValueError for one that is not a transform
    list (the identity for none)."""
    matrix = IDENTITY
    text = (value or "").strip()
    position = 0
    while position < len(text):
        match = _FUNCTION.match(text, position)
        if not match:
            raise ValueError(f"{value!r} is not a transform")
        name, numbers = match.group(1).lower(), [float(n) for n in _NUMBER.findall(match[2])]
        matrix = multiply(matrix, _one(name, numbers, value))
        position = match.end()
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
    return matrix


def _one(name: str, n: list[float], value: str | None) -> Matrix:
    if name == "matrix" and len(n) == 6:
        return (n[0], n[1], n[2], n[3], n[4], n[5])
    if name == "translate" and len(n) in (1, 2):
        return (1, 0, 0, 1, n[0], n[1] if len(n) == 2 else 0.0)
    if name == "scale" and len(n) in (1, 2):
        return (n[0], 0, 0, n[-1], 0, 0)
    if name == "rotate" and len(n) in (1, 3):
        cos, sin = math.cos(math.radians(n[0])), math.sin(math.radians(n[0]))
        cx, cy = (n[1], n[2]) if len(n) == 3 else (0.0, 0.0)
        return (cos, sin, -sin, cos, cx - cos * cx + sin * cy, cy - sin * cx - cos * cy)
    if name == "skewx" and len(n) == 1:
        return (1, 0, math.tan(math.radians(n[0])), 1, 0, 0)
    if name == "skewy" and len(n) == 1:
        return (1, math.tan(math.radians(n[0])), 0, 1, 0, 0)
    raise ValueError(f"{value!r} is not a transform")


def of(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> Matrix:
    """Where ``element``'s own coordinates land on the root's: its transform inside its
    ancestors'."""
    chain = [element]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    matrix = IDENTITY
    for node in reversed(chain):
        matrix = multiply(matrix, parse(node.get("transform")))
    return matrix


def box(matrix: Matrix, rect: tuple[float, float, float, float]) -> tuple[float, ...]:
    """The bounding box (x, y, width, height) of ``rect`` carried through ``matrix``."""
    x, y, width, height = rect
    a, b, c, d, e, f = matrix
    corners = [(x, y), (x + width, y), (x, y + height), (x + width, y + height)]
    xs = [a * px + c * py + e for px, py in corners]
    ys = [b * px + d * py + f for px, py in corners]
    return (round(min(xs), 1), round(min(ys), 1), round(max(xs) - min(xs), 1),
            round(max(ys) - min(ys), 1))  # fmt: skip


def viewport(root: ET.Element, width: int, height: int) -> Matrix:
    """Where the root's user units land on an image of ``width`` x ``height`` px: its
    ``viewBox`` scaled to fit and centred (``preserveAspectRatio`` xMidYMid meet, the
    default; ``none`` stretches)."""
    numbers = [float(n) for n in _NUMBER.findall(root.get("viewBox", ""))]
    if len(numbers) != 4 or numbers[2] <= 0 or numbers[3] <= 0:
        return IDENTITY
    x, y, box_width, box_height = numbers
    sx, sy = width / box_width, height / box_height
    if not (root.get("preserveAspectRatio") or "").strip().startswith("none"):
        sx = sy = min(sx, sy)
    dx, dy = (width - box_width * sx) / 2, (height - box_height * sy) / 2
    return (sx, 0.0, 0.0, sy, dx - x * sx, dy - y * sy)
