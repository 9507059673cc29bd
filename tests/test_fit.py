"""Shrink-to-fit and ellipsis, measured with the real font and checked in real pixels."""

import io

from PIL import Image, ImageChops

from renderer.core import text
from renderer.core.catalog import load_template
from renderer.core.render import plan, render

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="600" height="200">
<rect width="600" height="200" fill="#ffffff"/>
<text id="name" x="100" y="120" font-family="Inter" font-weight="bold" font-size="60"
 fill="#000000" data-fit-width="400" data-min-size="30">{{ first_name }}</text>
</svg>"""


def pixels(template, name: str) -> Image.Image:
    result = render(plan(template, {"first_name": name}, format="png"))
    return Image.open(io.BytesIO(result.encoded.data)).convert("L"), result.fitted[0]


def test_short_name_keeps_its_size(make_template):
    template = load_template(make_template(SVG, width=600, height=200))
    _, fitted = pixels(template, "Ana")
    assert fitted.size == 60 and not fitted.ellipsized and fitted.text == "Ana"


def test_long_name_shrinks_to_the_box(make_template):
    template = load_template(make_template(SVG, width=600, height=200))
    image, fitted = pixels(template, "Bartholomew Smith")
    natural = text.width("Bartholomew Smith", text.TextStyle(("Inter",), 60, 700))
    assert natural > 400
    assert 30 <= fitted.size < 60 and not fitted.ellipsized
    assert fitted.width <= 400
    ink = ImageChops.invert(image).getbbox()
    assert ink[0] >= 98 and ink[2] <= 100 + 400 + 2, ink


def test_very_long_name_is_ellipsized_at_min_size(make_template):
    template = load_template(make_template(SVG, width=600, height=200))
    image, fitted = pixels(template, "Bartholomew-Fitzgerald Featherstonehaugh")
    assert fitted.size == 30 and fitted.ellipsized
    assert fitted.text.endswith("…") and fitted.text.startswith("Bartholomew-Fitz")
    assert fitted.width <= 400
    ink = ImageChops.invert(image).getbbox()
    assert ink[2] <= 100 + 400 + 2, "the text stays inside its box"


def test_centred_text_stays_centred_in_its_box(catalog):
    template = catalog.get("flash_sale")
    result = render(
        plan(
            template,
            {"first_name": "Bartholomew-Fitzgerald Featherstonehaugh"},
            format="png",
            budget=600_000,
        )
    )
    greeting = next(f for f in result.fitted if f.id == "greeting")
    assert greeting.width <= 940
