"""Layered rendering agrees with a whole CairoSVG render of the same filled SVG."""

import math
import random
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image, ImageChops

from renderer.core import compose, raster
from renderer.core.catalog import load_template
from renderer.core.render import fill, plan

from .test_templates import NAMES

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
WORDS = [
    "Ana",
    "Zoë",
    "Łukasz",
    "Ольга",
    "Νίκος",
    "José María",
    "O'Brien & Sons",
    "<b>x</b>",
    "Bartholomew-Fitzgerald",
    "李",
    "WWWWWWWWWWWW",
    "ﬁx",
    "a  b",
    "🙂",
]


def random_value(field, rng: random.Random) -> str | None:
    kind = field.type
    if field.live and rng.random() < 0.3:
        return None  # the live store knows nothing: the template's fallback
    if kind == "text":
        if rng.random() < 0.5:
            return rng.choice(WORDS)[: field.max_length]
        length = rng.randint(1, field.max_length)
        return (
            "".join(rng.choice(string.ascii_letters + " -'") for _ in range(length)).strip() or "x"
        )
    if kind == "int":
        low = int(field.min) if field.min is not None else 0
        high = int(field.max) if field.max is not None else 10**6
        return str(rng.choice([low, high, rng.randint(low, high)]))
    if kind == "money":
        low = field.min if field.min is not None else Decimal(0)
        high = field.max if field.max is not None else Decimal("9999.99")
        cents = rng.randint(int(low * 100), int(high * 100))
        return f"{Decimal(cents) / 100:.2f}"
    if kind == "datetime":
        return (NOW + timedelta(minutes=rng.randint(-3 * 1440, 40 * 1440))).isoformat()
    if kind == "enum":
        return rng.choice(field.choices)
    if kind == "timezone":
        return rng.choice(["America/New_York", "America/Los_Angeles", "Europe/Paris", "UTC"])
    if kind == "qr":
        return "https://example.com/" + "".join(rng.choice(string.ascii_letters) for _ in range(20))
    return "".join(rng.choice(string.ascii_uppercase + string.digits + "-") for _ in range(8))


def psnr(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a, b).histogram()
    squared = sum(count * (value % 256) ** 2 for value, count in enumerate(histogram))
    mse = squared / (a.width * a.height * len(a.getbands()))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def layered_and_whole(template, job) -> tuple[Image.Image, Image.Image]:
    size = (template.width, template.height)
    root = template.parse(template.fill(job.values, job.now))
    compose.fit_dynamic(template.layers, root)
    layered = compose.compose(template.layers, root, template.fetcher, size).convert("RGB")
    whole = raster.rasterize(fill(job).encode(), template.fetcher, *size)
    flat = Image.new("RGB", size, (255, 255, 255))
    flat.paste(whole, mask=whole.getchannel("A"))
    if template.layers.opaque:
        flat = whole.convert("RGB")
    return layered, flat


@pytest.mark.parametrize("name", NAMES)
def test_layered_matches_whole_render(catalog, name, capsys):
    template = catalog.get(name)
    assert template.layers.layered, template.layers.reason
    rng = random.Random(name)
    worst = (math.inf, None)
    for _ in range(20):
        raw = {k: v for k, f in template.fields.items() if (v := random_value(f, rng)) is not None}
        job = plan(template, raw, at=NOW)
        value = psnr(*layered_and_whole(template, job))
        worst = min(worst, (value, raw), key=lambda pair: pair[0])
    with capsys.disabled():
        print(f"\n{name}: worst PSNR {worst[0]:.1f} dB for {worst[1]}")
    assert worst[0] >= 40, worst


SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" viewBox="0 0 300 200">'


def test_static_above_dynamic_stays_above(make_template):
    svg = (
        SVG_HEAD + '<rect width="300" height="200" fill="#ffffff"/>'
        '<text x="10" y="120" font-size="90" fill="#000000">{{ first_name }}</text>'
        '<rect x="0" y="0" width="150" height="200" fill="#ff0000"/></svg>'
    )
    template = load_template(make_template(svg, width=300, height=200))
    assert [run.static for run in template.layers.runs] == [True, False, True]
    job = plan(template, {"first_name": "WWWW"}, at=NOW)
    layered, whole = layered_and_whole(template, job)
    assert layered.getpixel((40, 100)) == (255, 0, 0), "the red rect covers the text"
    assert layered.getpixel((40, 100)) == whole.getpixel((40, 100))
    assert psnr(layered, whole) >= 40


def test_dynamic_text_keeps_its_gradient(make_template):
    svg = (
        SVG_HEAD + '<defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/>'
        '<stop offset="1" stop-color="#00f"/></linearGradient></defs>'
        '<rect width="300" height="200" fill="#222222"/>'
        '<text x="10" y="120" font-size="90" fill="url(#g)">{{ first_name }}</text></svg>'
    )
    template = load_template(make_template(svg, width=300, height=200))
    layered, whole = layered_and_whole(template, plan(template, {"first_name": "Ana"}, at=NOW))
    assert psnr(layered, whole) >= 40
    assert ImageChops.difference(layered, Image.new("RGB", (300, 200), (34, 34, 34))).getbbox()


def test_a_varying_definition_makes_its_users_dynamic(make_template):
    svg = (
        SVG_HEAD + '<defs><linearGradient id="g"><stop offset="0" stop-color="{{ first_name }}"/>'
        '</linearGradient></defs><rect width="300" height="200" fill="url(#g)"/></svg>'
    )
    template = load_template(make_template(svg, width=300, height=200))
    assert [run.static for run in template.layers.runs] == [False]
    red, _ = layered_and_whole(template, plan(template, {"first_name": "#ff0000"}, at=NOW))
    blue, _ = layered_and_whole(template, plan(template, {"first_name": "#0000ff"}, at=NOW))
    assert red.getpixel((5, 5)) == (255, 0, 0) and blue.getpixel((5, 5)) == (0, 0, 255)


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (
            SVG_HEAD + "{% if first_name|length < 3 %}<rect width='9' height='9'/>{% endif %}"
            "<text>{{ first_name }}</text></svg>",
            "not XML as written",
        ),
        (
            SVG_HEAD + "<style>text { fill: {{ first_name }}; }</style><text>x</text></svg>",
            "a <style> element varies",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" '
            'data-name="{{ first_name }}"><text>x</text></svg>',
            "attributes vary",
        ),
        (
            SVG_HEAD + '<rect id="box" width="9" height="9"/><text>{{ first_name }}</text>'
            '<use href="#box" x="20"/></svg>',
            "refers to #box in another run",
        ),
    ],
)
def test_templates_that_render_whole_say_why_and_still_render(make_template, svg, reason):
    template = load_template(make_template(svg, width=300, height=200))
    assert not template.layers.layered and reason in template.layers.reason
    from renderer.core.render import render

    result = render(plan(template, {"first_name": "Ana"}, at=NOW))
    assert "raster" in result.timings and result.encoded.width == 300


def test_a_repeated_dynamic_run_is_drawn_once_then_painted(catalog):
    """The third render of the same values paints kept pieces; it matches the first and a
    whole render."""
    template = catalog.get("refer_friend")
    job = plan(
        template,
        {"first_name": "Repeat", "referral_code": "R-1", "link": "https://r.example/x"},
        at=NOW,
    )
    first, whole = layered_and_whole(template, job)
    layered_and_whole(template, job)
    third, _ = layered_and_whole(template, job)
    with template.layers.lock:
        assert len(template.layers.pieces) >= 1
    assert psnr(third, first) >= 50 and psnr(third, whole) >= 40
