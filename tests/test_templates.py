"""Every bundled template, rendered for real and decoded."""

import io
from datetime import datetime

import pytest
from PIL import Image, ImageChops

from renderer.core import fields, raster, text
from renderer.core.limits import HARD_CAP_BYTES
from renderer.core.render import fill, plan, render
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import AT

NAMES = sorted(p.name for p in BUNDLED_TEMPLATES.iterdir() if (p / "manifest.toml").exists())
at = datetime.fromisoformat(AT)


def test_all_bundled_templates_load(catalog):
    assert catalog.errors == []
    assert sorted(catalog.templates) == NAMES
    assert len(NAMES) >= 7
    aspects = {round(t.width / t.height, 2) for t in catalog.templates.values()}
    assert aspects == {1.0, 0.8, 1.78}  # 1:1, 4:5 and 16:9


@pytest.mark.parametrize("which", ["sample", "extreme"])
@pytest.mark.parametrize("name", NAMES)
def test_renders_within_budget(catalog, name, which):
    template = catalog.get(name)
    values = fields.example_values(template.fields, which)
    result = render(plan(template, values, at=at))
    data = result.encoded.data
    assert len(data) <= template.budget <= HARD_CAP_BYTES
    image = Image.open(io.BytesIO(data))
    assert image.format == {"jpg": "JPEG", "gif": "GIF"}[template.format]
    assert image.size == (template.width, template.height)
    image.load()
    low, high = image.convert("L").getextrema()
    assert high - low > 100, "a photographic image, not a blank canvas"


@pytest.mark.parametrize("name", NAMES)
def test_extreme_values_fit_their_boxes(catalog, name):
    template = catalog.get(name)
    values = fields.example_values(template.fields, "extreme")
    result = render(plan(template, values, at=at, format="png", budget=HARD_CAP_BYTES))
    fitted = [f for f in result.fitted if f.fitted]
    assert fitted, "every bundled template fits some text"
    for one in fitted:
        tags = [t.split(">")[0] for t in template.source.split(f'id="{one.id}"')[1:]]
        box = min(float(t.split('data-fit-width="')[1].split('"')[0]) for t in tags if "fit" in t)
        assert one.width <= box + 0.01, one


def test_budget_bites_on_some_bundled_templates(catalog):
    """At least one bundled photo template needs the budget search to fit 500 KB."""
    qualities = {}
    for name in NAMES:
        template = catalog.get(name)
        result = render(plan(template, fields.example_values(template.fields, "sample"), at=at))
        qualities[name] = result.encoded.quality
    assert any(q is not None and q < 95 for q in qualities.values()), qualities


def _pixels(template, values):
    svg = fill(plan(template, values, at=at))
    return raster.rasterize(svg.encode(), template.fetcher, template.width, template.height)


def test_first_name_changes_only_the_name_box(catalog):
    template = catalog.get("flash_sale")
    ana = _pixels(template, {"first_name": "Ana"})
    zoe = _pixels(template, {"first_name": "Zoë"})
    diff = ImageChops.difference(ana.convert("RGB"), zoe.convert("RGB")).convert("L")
    box = diff.getbbox()
    assert box is not None, "the names must differ in pixels"
    # the greeting: baseline y=600, 64 px, centred on x=540 in a 940 px box
    left, top, right, bottom = box
    assert left >= 70 and right <= 1010
    assert top >= 600 - 64 and bottom <= 600 + 20
    # and it really is the name: many pixels changed, strongly
    changed = diff.point(lambda v: 255 if v > 64 else 0).histogram()[255]
    assert changed > 500


def test_first_name_change_in_the_encoded_jpeg(catalog):
    template = catalog.get("flash_sale")
    a = render(plan(template, {"first_name": "Ana"}, at=at)).encoded
    b = render(plan(template, {"first_name": "Zoë"}, at=at)).encoded
    assert a.quality == b.quality
    ia = Image.open(io.BytesIO(a.data)).convert("L")
    ib = Image.open(io.BytesIO(b.data)).convert("L")
    diff = ImageChops.difference(ia, ib)
    left, top, right, bottom = diff.point(lambda v: 255 if v > 8 else 0).getbbox()
    # JPEG works in 16x16 blocks at 4:2:0: allow one block around the name's box
    assert left >= 70 - 16 and right <= 1010 + 16
    assert top >= 600 - 64 - 16 and bottom <= 600 + 20 + 16
    far = diff.crop((0, 0, 1080, 600 - 64 - 16))
    assert far.getbbox() is None, "nothing changes far from the name"


@pytest.mark.parametrize("name", ["José", "Zoë", "Łukasz", "Ольга", "Νίκος"])
def test_accented_and_non_latin_names_draw_real_glyphs(catalog, name):
    assert not text.fontset().uncovered(name)
    template = catalog.get("loyalty_badge")
    box = (50, 680, 1030, 790)  # the name line
    drawn = _pixels(template, {"first_name": name}).crop(box).convert("L")
    tofu = _pixels(template, {"first_name": "\u0378" * len(name)}).crop(box).convert("L")
    assert ImageChops.difference(drawn, tofu).getbbox() is not None


def test_missing_glyphs_are_detected():
    assert text.fontset().uncovered("Ana \U000f0000 \u0378") == ["\U000f0000", "\u0378"]


def test_sold_out_state(catalog):
    template = catalog.get("low_stock")
    values = {"product_name": "Ethiopia Yirgacheffe", "stock": "0"}
    svg = fill(plan(template, values, at=at))
    assert "SOLD OUT" in svg and "left!" not in svg
    assert "Only 47 left!" in fill(plan(template, {**values, "stock": "47"}, at=at))


def test_qr_field_draws_a_code_that_reads_back(catalog):
    """Every module of the QR in the rendered pixels matches the code of the value."""
    import segno

    link = "https://orbit.example.com/c/QUJDfGF8MQ.x7Yt"
    template = catalog.get("refer_friend")
    result = render(
        plan(
            template,
            {"first_name": "Ana", "referral_code": "ANA-1", "link": link},
            format="png",
            budget=HARD_CAP_BYTES,
            at=at,
        )
    )
    image = Image.open(io.BytesIO(result.encoded.data)).convert("L")
    matrix = list(segno.make(link, error="m").matrix)
    modules = len(matrix) + 8
    scale = 190 / modules
    wrong = 0
    for row, line in enumerate(matrix):
        for column, dark in enumerate(line):
            x = 818 + (column + 4.5) * scale
            y = 72 + (row + 4.5) * scale
            value = image.getpixel((int(x), int(y)))
            wrong += (value < 110) != bool(dark)
    assert wrong == 0, f"{wrong} of {len(matrix) ** 2} modules differ"


def test_qr_value_cannot_inject_markup(catalog):
    template = catalog.get("refer_friend")
    svg = fill(
        plan(
            template,
            {
                "first_name": "Ana",
                "referral_code": "A",
                "link": '"/><image href="file:///etc/passwd"/>',
            },
            at=at,
        )
    )
    assert "passwd" not in svg
