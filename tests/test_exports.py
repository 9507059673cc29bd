"""Templates as design tools export them (tests/exports/: Illustrator, Inkscape, Canva-like),
untouched apart from their placeholders and manifest: CSS classes, style="", inheritance and
units are read by fitting, lint, layering and the text engine alike (``cascade``)."""

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from renderer.core import cascade, fields, lint, text
from renderer.core.catalog import load_template
from renderer.core.render import plan, render
from renderer.core.text.style import computed

EXPORTS = Path(__file__).parent / "exports"
TOOLS = sorted(p.name for p in EXPORTS.iterdir() if (p / "manifest.toml").exists())


def rendered(template, which: str):
    values = fields.example_values(template.fields, which)
    result = render(plan(template, values, format="png", budget=600_000))
    return Image.open(io.BytesIO(result.encoded.data)).convert("RGB"), result.fitted


@pytest.mark.parametrize("tool", TOOLS)
def test_each_export_lints_clean_and_renders_its_values(tool):
    folder = EXPORTS / tool
    assert [f for f in lint.lint_folder(folder) if f.severity == "error"] == []
    template = load_template(folder)
    for which in ("sample", "extreme"):
        image, fitted = rendered(template, which)
        assert image.size == (template.width, template.height)
        name = fields.example_values(template.fields, which)["first_name"]
        assert name in " ".join(f.text for f in fitted)


def test_illustrator_classes_fit_the_name_in_bold():
    template = load_template(EXPORTS / "illustrator")
    image, fitted = rendered(template, "extreme")
    name = next(f for f in fitted if "Bartholomew" in f.text)
    assert name.fitted and name.shrunk and 36 <= name.size < 72  # .st4: 72px, from CSS
    bold = text.width(name.text, text.TextStyle(("Inter",), name.size, 700))
    regular = text.width(name.text, text.TextStyle(("Inter",), name.size, 400))
    assert abs(name.width - bold) < 1 and regular < bold - 20  # 'Inter-Bold' is the bold face
    assert name.width <= 920
    left, top, width, _ = name.box  # on the image: through matrix(1 0 0 1 80 520)
    assert abs(left - 80) < 2 and 440 < top < 520 and width <= 920
    # .st1 (fill #FFD23F) on the code's tspan, .st2 (white) on the name: CSS paint reaches
    # the glyphs
    assert (255, 210, 63) in {image.getpixel((x, 600)) for x in range(320, 700)}
    assert (255, 255, 255) in {image.getpixel((x, 505)) for x in range(100, 900)}


def test_lint_flags_a_class_styled_text_running_off_with_its_box_on_the_image(make_template):
    svg = (EXPORTS / "illustrator" / "template.svg").read_text()
    svg = svg.replace(' data-fit-width="920" data-min-size="36"', "")
    manifest = (EXPORTS / "illustrator" / "manifest.toml").read_text()
    folder = make_template(svg, name="illustrator", manifest=manifest)
    findings = lint.lint_folder(folder)
    overflow = [f for f in findings if f.rule == "overflow"]
    assert overflow and overflow[0].severity == "error", findings
    left, top, width, height = overflow[0].box
    assert abs(left - 80) <= 2 and left + width > 1080 and 440 < top < 520 and height > 60


def test_canva_viewbox_scales_the_lint_boxes_to_the_image():
    template = load_template(EXPORTS / "canva")
    root = lint._filled(template, "extreme")
    done = lint._on_image(text.typeset(root), root, template)
    price = next(f for f in done if "today" in f.text)
    # translate(60, 520) then x=150 middle, in a viewBox of 810 shown at 1080: 4/3
    centre = price.box[0] + price.box[2] / 2
    assert abs(centre - (60 + 150) * 4 / 3) < 2, price.box


SHEET = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">
<style>
  text { font-family: 'Noto Sans'; font-size: 20px }
  .big { font-size: 30pt }
  #hero { font-weight: 800 }
  g.card text { font-style: italic }
  .half { font-size: 50% }
  .loud { font-weight: 300 !important }
  .wide { letter-spacing: 0.1em }
</style>
<g class="card" font-size="10">
  <text id="hero" class="big wide" font-size="12" font-weight="400">A<tspan class="half">b</tspan></text>
  <text id="own" class="big" style="font-size: 2em">C</text>
  <text id="strong" class="loud" style="font-weight: 900">D</text>
</g>
<text id="plain" x="1" y="2">E</text>
<rect id="box" class="big" style="fill: #f00" width="10" height="10"/>
</svg>"""  # noqa: E501


def styles() -> dict[str, text.TextStyle]:
    root = ET.fromstring(SHEET)
    cascade.inline(root)
    parents = {child: parent for parent in root.iter() for child in parent}
    found = {e.get("id") or e.get("class"): computed(e, parents) for e in root.iter()}
    return found


def test_the_cascade_orders_attributes_rules_style_and_important():
    found = styles()
    hero = found["hero"]
    assert hero.size == pytest.approx(40.0)  # 30pt, the rule over the attribute's 12
    assert hero.weight == 800  # #hero over font-weight="400"
    assert hero.italic and hero.families == ("Noto Sans",)  # descendant and type selectors
    assert hero.letter_spacing == pytest.approx(4.0)  # 0.1em of 40px
    assert found["half"].size == pytest.approx(20.0)  # 50% of the parent's 40px
    assert found["own"].size == pytest.approx(20.0)  # style="" over .big: 2em of the g's 10
    assert found["strong"].weight == 300  # !important over style=""
    assert found["plain"].size == 20 and not found["plain"].italic


def test_inlining_the_texts_first_then_the_rest_is_inlining_all_at_once():
    at_once, in_two = ET.fromstring(SHEET), ET.fromstring(SHEET)
    cascade.inline(at_once)
    cascade.inline(in_two, texts_only=True)
    texts = ET.tostring(in_two)
    cascade.inline(in_two, texts_only=True)
    assert ET.tostring(in_two) == texts  # done once
    assert in_two.find(".//{*}rect").get("style") == "fill: #f00"  # not a text: not yet
    cascade.inline(in_two)
    assert ET.tostring(in_two) == ET.tostring(at_once)


def test_inlining_twice_changes_nothing():
    root = ET.fromstring(SHEET)
    cascade.inline(root)
    once = ET.tostring(root)
    cascade.inline(root)
    assert ET.tostring(root) == once


def test_letter_spacing_in_em_beside_a_box_loads_and_fits(make_template):
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
<text x="20" y="200" font-family="Inter" font-size="48" letter-spacing="0em"
 data-fit-width="360" data-min-size="12">{{ first_name }}</text></svg>"""
    template = load_template(make_template(svg, width=400, height=400))
    result = render(plan(template, {"first_name": "Bartholomew Fitzgerald"}, format="png"))
    assert result.fitted[0].shrunk and result.fitted[0].width <= 360


def test_a_sibling_selector_renders_whole_and_says_why(make_template):
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
<style>rect + text { fill: #c00 }</style><rect width="400" height="400" fill="#fff"/>
<text x="20" y="200" font-family="Inter" font-size="48">{{ first_name }}</text></svg>"""
    template = load_template(make_template(svg, width=400, height=400))
    assert not template.layers.layered
    assert template.layers.reason == "the CSS selector 'rect + text' depends on siblings"
    result = render(plan(template, {"first_name": "Ana"}, format="png"))
    image = Image.open(io.BytesIO(result.encoded.data)).convert("RGB")
    assert (204, 0, 0) in {image.getpixel((x, 190)) for x in range(20, 120)}


def test_class_selectors_keep_a_template_layered():
    template = load_template(EXPORTS / "illustrator")
    assert template.layers.layered, template.layers.reason


CUT = """<svg xmlns="http://www.w3.org/2000/svg" width="1080" height="600">
<rect width="1080" height="600" fill="#000"/>
<g transform="translate(10 300)"><text fill="#fff" xml:space="preserve" font-family="Inter"
 font-size="88" font-weight="bold" data-fit-width="920" data-min-size="60"><tspan x="70"
 y="-99.5">Hi {{ first_name }}!</tspan></text></g></svg>"""


def test_a_cut_text_placed_by_its_tspan_stays_where_the_designer_put_it(make_template):
    template = load_template(make_template(CUT, width=1080, height=600))
    name = "Maximiliana Featherstonehaugh-Worth"
    result = render(plan(template, {"first_name": name}, format="png"))
    fitted = result.fitted[0]
    assert fitted.ellipsized and fitted.size == 60
    left, top, width, _ = fitted.box  # the tspan's x/y inside the group's translate
    assert abs(left - 80) < 1 and 130 < top < 160 and left + width <= 80 + 920 + 1
    ink = Image.open(io.BytesIO(result.encoded.data)).convert("L").getbbox()
    assert ink is not None and 75 <= ink[0] <= 90 and ink[1] >= 140 and ink[3] <= 220, ink
