"""Fidelity oracle: each design-tool export of tests/exports/, filled with its sample and its
extreme values, drawn by headless Chromium (Debian's) and by the renderer; the two images
must agree (SSIM >= 0.97 or PSNR >= 30 dB).

Chromium gets the filled SVG as a document of its own (its CSS cascade, its font matching,
its shaping: nothing of ours), with the bundled font files as @font-face rules under every
name a design tool may write (family, full name, PostScript name), and, where the renderer
fitted a text to its box, that text's fitted size: the one decision only our engine makes.
"""

import copy
import io
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from renderer.core import fields, text
from renderer.core.catalog import load_template
from renderer.core.perceptual import ssim
from renderer.core.raster import rasterize

from .test_exports import EXPORTS, TOOLS
from .test_studio import ARTIFACTS
from .text_oracle import chromium

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
SVG = "http://www.w3.org/2000/svg"
CASES = [(tool, which) for tool in TOOLS for which in ("sample", "extreme")]


def font_faces() -> str:
    """@font-face rules: each bundled face under its family (with its weight and style) and,
    alone, under its full and PostScript names (as a browser with the fonts installed finds
    them). Collections are left to fontconfig: Chromium does not load a .ttc as a web font."""
    rules = []
    for face in text.fontset().faces:
        if face.path.suffix == ".ttc":
            continue
        style = "italic" if face.italic else "normal"
        for name in face.names:
            rules.append(
                f'@font-face {{ font-family: "{name}"; src: url("/fonts/{face.path.name}"); '
                f"font-weight: {face.weight}; font-style: {style}; }}"
            )
    return "\n".join(rules)


def both(tool: str, which: str) -> tuple[bytes, Image.Image]:
    """(the filled SVG for Chromium, the renderer's image) for one template and value set."""
    template = load_template(EXPORTS / tool)
    values = fields.validate(template.fields, fields.example_values(template.fields, which))
    root = template.parse(template.fill(values, AT))
    theirs = copy.deepcopy(root)
    done = text.typeset(root)
    ours = rasterize(ET.tostring(root), template.fetcher, template.width, template.height)
    texts = [t for t in theirs.iter(f"{{{SVG}}}text")]
    for element, fitted in zip(texts, done, strict=True):
        if fitted.shrunk:  # the size the renderer fitted it to, on the text and its tspans
            for node in element.iter():
                node.set("style", f"{node.get('style', '')};font-size:{fitted.size}px")
    theirs.set("width", str(template.width))
    theirs.set("height", str(template.height))
    faces = ET.Element(f"{{{SVG}}}style")
    faces.text = font_faces()
    theirs.insert(0, faces)
    return ET.tostring(theirs), ours.convert("RGB")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> dict[tuple[str, str], tuple[Image.Image, Image.Image]]:
    """Per case: (Chromium's image, ours)."""
    made = {case: both(*case) for case in CASES}
    pages = {
        f"/{tool}-{which}.svg": ("image/svg+xml", svg) for (tool, which), (svg, _) in made.items()
    }
    shots = {}
    with chromium(pages, tmp_path_factory.mktemp("chromium-home")) as (browser, url):
        for tool, which in CASES:
            size = made[(tool, which)][1].size
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            page.goto(f"{url}/{tool}-{which}.svg")
            page.evaluate("document.fonts.ready.then(() => document.fonts.size)")
            shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
            shots[(tool, which)] = (shot, made[(tool, which)][1])
            page.close()
    return shots


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@pytest.mark.parametrize(("tool", "which"), CASES, ids=[f"{t}-{w}" for t, w in CASES])
def test_chromium_draws_the_same_picture(drawn, tool, which):
    theirs, ours = drawn[(tool, which)]
    assert theirs.size == ours.size
    similarity, decibels = ssim(theirs, ours), psnr(theirs, ours)
    ARTIFACTS.mkdir(exist_ok=True)
    side_by_side = Image.new("RGB", (ours.width * 2, ours.height), "white")
    side_by_side.paste(theirs, (0, 0))
    side_by_side.paste(ours, (ours.width, 0))
    side_by_side.save(ARTIFACTS / f"fidelity-{tool}-{which}.png")  # left Chromium, right ours
    assert similarity >= 0.97 or decibels >= 30, (similarity, decibels)
