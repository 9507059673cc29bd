"""The same SVG text drawn by headless Chromium (Debian's) with the same font files: each
line's ink box must land within a few pixels of ours. Chromium shapes with its own HarfBuzz
and lays out with Blink; it sees only the bundled fonts (its fontconfig is pointed at
fonts/fonts.conf, and the families are given as @font-face with their files)."""

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from renderer.core import text
from renderer.core.raster import Fetcher, rasterize

from .test_studio import ARTIFACTS
from .text_oracle import chromium, ink

TOLERANCE = 3  # px, on every side of each line's ink box
W, H = 640, 100
CASES = [  # attributes of <text>, its content
    ('font-family="Inter" font-weight="700" font-size="48"', "AVATAR Tokyo Wax"),
    ('font-family="Inter" font-weight="600" font-size="40" text-anchor="middle" '
     'letter-spacing="4"', "Zoë SemiBold"),
    ('font-family="Inter" font-weight="300" font-size="44" font-style="italic"', "Łukasz Light"),
    ('font-family="Inter" font-size="44" direction="rtl" text-anchor="start"', "محمد بن سلمان"),
    ('font-family="Inter" font-size="40" text-anchor="end"', "Hi שלום, welcome"),
    ('font-family="Inter" font-size="40"', "नमस्ते प्रिया"),
    ('font-family="Inter" font-size="40"', "சுப்பிரமணியம் தெలుగు"),
    ('font-family="Inter" font-size="40" xml:lang="ja"', "佐藤 美咲 さくら"),
    ('font-family="Inter" font-size="40"', "김민준 ສົມພອນ สมชาย"),
    ('font-family="Inter" font-size="40"', "Ana 😀👍🏽🇺🇸 አበበ"),
    ('font-family="Inter" font-size="40" dominant-baseline="middle"', "Middle Ŵ Ольга"),
    ('font-family="Inter" font-size="40" dominant-baseline="central" text-anchor="end"',
     "Central Νίκος"),
    ('font-family="Inter" font-size="40" dominant-baseline="hanging"', "Hanging Արամ"),
    ('font-family="Inter" font-size="36" word-spacing="12"',
     'Hi <tspan font-weight="900" fill="#c00">Ana</tspan> ნინო'),
    ('font-family="Inter" font-size="36" direction="rtl" text-anchor="middle"',
     'שלום <tspan font-weight="700">דוד</tspan> 2026'),
]  # fmt: skip


def svg(attributes: str, content: str, families: str = "") -> str:
    anchor = "middle" if 'anchor="middle"' in attributes else "end" if (
        'anchor="end"' in attributes or ('rtl' in attributes and "start" in attributes)
    ) else "start"  # fmt: skip
    x = {"start": 20, "middle": W // 2, "end": W - 20}[anchor]
    if families:
        attributes = attributes.replace('font-family="Inter"', f"font-family='Inter, {families}'")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">'
        f'<rect width="{W}" height="{H}" fill="#fff"/>'
        f'<text x="{x}" y="60" {attributes}>{content}</text></svg>'
    )


def page_html() -> str:
    """Every case, with the bundled faces as @font-face (collections come from fontconfig:
    Chromium does not load a .ttc as a web font) and the fallback chain as the family list."""
    fonts = text.fontset()
    faces = "\n".join(
        f'@font-face {{ font-family: "{f.family}"; src: url("/fonts/{f.path.name}"); '
        f"font-weight: {f.weight}; font-style: {'italic' if f.italic else 'normal'}; }}"
        for f in fonts.faces
        if f.path.suffix != ".ttc"
    )
    chain = ", ".join(f'"{group[0].family}"' for group in fonts.fallback)
    body = "".join(svg(a, c, chain) for a, c in CASES)
    return (
        f'<html><head><meta charset="utf-8"><style>{faces}\nbody {{ margin: 0 }} '
        f"svg {{ display: block }}</style></head><body>{body}</body></html>"
    )


@pytest.fixture(scope="module")
def chromium_shot(tmp_path_factory) -> Image.Image:
    pages = {"/": ("text/html; charset=utf-8", page_html().encode())}
    with chromium(pages, tmp_path_factory.mktemp("chromium-home")) as (browser, url):
        page = browser.new_page(viewport={"width": W, "height": H * len(CASES)})
        page.goto(url + "/")
        page.evaluate("document.fonts.ready")
        shot = page.screenshot(full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    image.save(ARTIFACTS / "text-chromium.png")
    return image


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c for _, c in CASES])
def test_each_line_lands_where_chromium_puts_it(chromium_shot, index):
    theirs = chromium_shot.crop((0, H * index, W, H * (index + 1)))
    root = ET.fromstring(svg(*CASES[index]))
    text.typeset(root)
    ours = rasterize(ET.tostring(root), Fetcher({}), W, H).convert("RGB")
    expected, got = ink(theirs), ink(ours)
    assert expected and got, "both drew the line"
    off = [abs(a - b) for a, b in zip(expected, got, strict=True)]
    if max(off) > TOLERANCE:
        side_by_side = Image.new("RGB", (W, 2 * H), "white")
        side_by_side.paste(theirs, (0, 0))
        side_by_side.paste(ours, (0, H))
        side_by_side.save(ARTIFACTS / f"text-reference-{index}.png")
    assert max(off) <= TOLERANCE, f"Chromium {expected}, ours {got}"
