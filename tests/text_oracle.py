"""What the tests of the text engine check its output against, independently of the engine:
the font files read by fontTools, the set SVG read as XML, and pixels."""

import contextlib
import functools
import http.server
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from .conftest import ROOT
from .test_studio import CHROMIUM

FONTS = ROOT / "fonts"
GLYPHS = "{urn:mms-renderer:text}glyphs"
SVG = "{http://www.w3.org/2000/svg}"
# Joiners, variation selectors, bidi marks and tag characters: no font needs to map them.
IGNORABLE = {0x200C, 0x200D, 0x200E, 0x200F, 0xFE0E, 0xFE0F, *range(0xE0020, 0xE0080)}


@cache
def font(face_id: str) -> TTFont:
    """The font file (and face of a collection) a glyph element names, opened by fontTools."""
    stem, _, index = face_id.partition("#")
    path = next(p for p in FONTS.glob(f"{stem}.*") if p.suffix in (".otf", ".ttf", ".ttc"))
    return TTFont(path, fontNumber=int(index or 0), lazy=True)


@cache
def cmap(face_id: str) -> dict[int, str]:
    return font(face_id).getBestCmap()


def glyph_runs(group: ET.Element) -> list[tuple[str, float, list[tuple[int, float, float]]]]:
    """(face, size, [(glyph id, x, y)]) of each glyph element under ``group``, or of each
    path of the plain SVG the CLI writes (which names its font and glyphs; size 0)."""
    runs = []
    for element in group.iter():
        if element.tag == GLYPHS:
            face, size = element.get("face"), float(element.get("size"))
            glyphs = element.get("glyphs")
        elif element.get("data-font"):
            face, size, glyphs = element.get("data-font"), 0.0, element.get("data-glyphs")
        else:
            continue
        placed = [tuple(float(v) for v in item.split(",")) for item in glyphs.split()]
        runs.append((face, size, [(int(g), x, y) for g, x, y in placed]))
    return runs


def by_id(svg: str) -> dict[str, ET.Element]:
    return {el.get("id"): el for el in ET.fromstring(svg).iter() if el.get("id")}


def notdef_free(runs) -> bool:
    """No glyph drawn is glyph 0, which is .notdef in every font (fontTools says so)."""
    return all(
        font(face).getGlyphOrder()[0] == ".notdef" and gid != 0
        for face, _, glyphs in runs
        for gid, _, _ in glyphs
    )


def uncovered(name: str, runs) -> list[str]:
    """Characters of ``name`` that no face used for it maps (per fontTools' cmap)."""
    faces = {face for face, _, _ in runs}
    return [
        c
        for c in name
        if not c.isspace()
        and ord(c) not in IGNORABLE
        and not any(ord(c) in cmap(face) for face in faces)
    ]


def nominal(face_id: str, char: str) -> int:
    """The glyph id the font maps ``char`` to on its own (the isolated form)."""
    return font(face_id).getGlyphID(cmap(face_id)[ord(char)])


def colourful(image: Image.Image) -> int:
    """Pixels with a strong hue: black and white text has none, colour emoji many."""
    rgb = image.convert("RGB")
    return sum(1 for r, g, b in rgb.get_flattened_data() if max(r, g, b) - min(r, g, b) > 80)


def ink(image: Image.Image, threshold: int = 160) -> tuple[int, int, int, int] | None:
    """The box of dark pixels (text on white)."""
    return image.convert("L").point(lambda v: 255 if v < threshold else 0).getbbox()


class Pages(http.server.SimpleHTTPRequestHandler):
    """Pages from memory (path -> (content type, body)) and the bundled font files under
    /fonts/, from this machine only: what the Chromium comparisons load."""

    def __init__(self, *args, pages: dict[str, tuple[str, bytes]], **kwargs):
        self.pages = pages
        super().__init__(*args, directory=str(FONTS), **kwargs)

    def do_GET(self):
        if self.path.startswith("/fonts/"):
            self.path = self.path.removeprefix("/fonts")
            return super().do_GET()
        kind, body = self.pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def chromium(pages: dict[str, tuple[str, bytes]], home: Path) -> Iterator[tuple[Browser, str]]:
    """Debian's Chromium, seeing only the bundled fonts (its fontconfig pointed at
    fonts/fonts.conf), and the base URL ``pages`` are served at."""
    handler = functools.partial(Pages, pages=pages)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--font-render-hinting=none"],
                env={"FONTCONFIG_FILE": str(FONTS / "fonts.conf"), "HOME": str(home)},
            )
            yield browser, f"http://127.0.0.1:{server.server_address[1]}"
            browser.close()
    finally:
        server.shutdown()
