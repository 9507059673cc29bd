"""Filters as design tools export them (``effects``): drawn where a browser draws them (the
Chromium comparison of tests/exports/figma_card is in test_fidelity), the element they wrap
left where it is, the same whether a run is drawn alone or the template whole; what is not
drawn is a lint error with its element and line."""

import io

import numpy as np
import pytest
from PIL import Image, ImageChops

from renderer.core import lint
from renderer.core.catalog import load_template
from renderer.core.render import plan, render

from .test_compose import layered_and_whole, psnr
from .test_exports import EXPORTS

CARD = (EXPORTS / "figma_card" / "template.svg").read_text()
MANIFEST = (EXPORTS / "figma_card" / "manifest.toml").read_text()
VALUES = {"first_name": "Ana", "when": "Fri 8 pm"}


def drawn_values(template, values: dict) -> Image.Image:
    result = render(plan(template, values, format="png"))
    return Image.open(io.BytesIO(result.encoded.data)).convert("RGB")


def drawn(template) -> Image.Image:
    return drawn_values(template, VALUES)


def test_a_drop_shadow_leaves_the_text_where_it_was(make_template):
    with_shadow = drawn(load_template(EXPORTS / "figma_card"))
    plain = CARD.replace('<g filter="url(#filter2_d_7_2)">', "<g>")
    without = drawn(load_template(make_template(plain, name="figma_card", manifest=MANIFEST)))
    box = (170, 240, 520, 360)  # the name and its shadow

    def ink(image):  # the text's own dark pixels (#1C1B29), not its orange shadow
        dark = image.crop(box).convert("L").point(lambda v: 255 if v < 60 else 0)
        return dark.getbbox()

    assert ink(with_shadow) == ink(without)
    shadow = ImageChops.difference(with_shadow.crop(box), without.crop(box)).getbbox()
    assert shadow is not None  # and the shadow is drawn: orange pixels beside the text
    pixels = np.asarray(with_shadow.crop(box))
    assert ((pixels[..., 0] > 200) & (pixels[..., 2] < 200)).sum() > 200  # orange


@pytest.mark.parametrize("values", [VALUES, {"first_name": "Bartholomew-Fitzgerald",
                                              "when": "Saturday Dec 27, 9:30 pm"}])  # fmt: skip
def test_a_filter_around_a_dynamic_text_is_the_same_drawn_alone(values):
    template = load_template(EXPORTS / "figma_card")
    assert template.layers.layered and template.summary()["redrawn"] < 0.2
    layered, whole = layered_and_whole(template, plan(template, values))
    assert psnr(layered, whole) >= 40


@pytest.mark.parametrize(
    ("effect", "message"),
    [
        ('<feTurbulence baseFrequency="0.05"/>', "feTurbulence is not drawn"),
        ('<feBlend mode="overlay" in="SourceGraphic"/>', "feBlend mode 'overlay' is not drawn"),
    ],
)
def test_an_effect_not_drawn_is_a_lint_error_with_element_and_line(make_template, effect, message):
    svg = CARD.replace('<feGaussianBlur stdDeviation="20" result="effect1_foregroundBlur_7_2"/>',
                       effect, 1)  # fmt: skip
    svg = svg.replace('<rect x="120" y="160"', '<rect style="mix-blend-mode: multiply" x="120" '
                      'y="160"', 1)  # fmt: skip
    findings = lint.lint_folder(make_template(svg, name="figma_card", manifest=MANIFEST))
    found = [f for f in findings if f.rule == "effect"]
    assert [(f.element, f.line) for f in found if message in f.message] == [
        ("filter1_f_7_2", svg[: svg.index('id="filter1_f_7_2"')].count("\n") + 1)
    ], findings
    blend = [f for f in found if "mix-blend-mode 'multiply'" in f.message]
    assert blend and all(f.severity == "error" for f in found)


def test_a_filter_in_bounding_box_units_is_clipped_to_its_region(make_template):
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
<defs><filter id="soft"><feGaussianBlur stdDeviation="8"/></filter></defs>
<rect width="400" height="400" fill="#fff"/>
<circle cx="200" cy="200" r="50" fill="#000" filter="url(#soft)"/>
<text x="20" y="380" font-family="Inter" font-size="20">{{ first_name }}</text></svg>"""
    image = drawn_values(load_template(make_template(svg)), {"first_name": "Ana"})
    dark = image.convert("L").point(lambda v: 255 if v < 250 else 0).crop((0, 0, 400, 300))
    # the default region: the circle's box and 10% of it on each side (140..260)
    assert dark.getbbox() == (140, 140, 260, 260)
    assert 0 < image.getpixel((200, 253))[0] < 250  # blurred past the edge (r = 50)
