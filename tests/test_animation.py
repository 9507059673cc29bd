"""Animated GIFs: countdowns that tick a second a frame, loops, limits, budgets."""

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image, ImageChops, ImageSequence

from renderer.core.catalog import load_template
from renderer.core.errors import TemplateError
from renderer.core.render import fill, plan, render

from .conftest import MANIFEST
from .test_http import NEW

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
TIMER = (50, 210, 550, 370)  # the countdown's panel in countdown_gif
VALUES = {"first_name": "Ana", "ends_at": "2026-11-28T21:00:00", "tz": "America/New_York"}


def frames(data: bytes) -> list[Image.Image]:
    gif = Image.open(io.BytesIO(data))
    return [frame.convert("RGB") for frame in ImageSequence.Iterator(gif)]


def distance(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a.convert("L"), b.convert("L")).histogram()
    return sum(value * count for value, count in enumerate(histogram))


def still(template, at: datetime) -> Image.Image:
    result = render(plan(template, VALUES, format="png", budget=600_000, at=at))
    return Image.open(io.BytesIO(result.encoded.data)).convert("RGB")


def test_countdown_ticks_a_second_a_frame(catalog):
    template = catalog.get("countdown_gif")
    result = render(plan(template, VALUES, at=AT)).encoded
    assert result.format == "gif" and len(result.data) <= 500_000 and not result.notes
    gif = Image.open(io.BytesIO(result.data))
    assert gif.n_frames == result.frames == 60 and gif.info["loop"] == 0
    assert [f.info["duration"] for f in ImageSequence.Iterator(gif)] == [1000] * 60
    decoded = frames(result.data)
    assert decoded[0].size == (600, 600)
    low, high = decoded[0].convert("L").getextrema()
    assert high - low > 100, "frame one stands alone: a whole image"
    for n in (0, 1, 29, 59):
        box = decoded[n].crop(TIMER)
        same = distance(box, still(template, AT + timedelta(seconds=n)).crop(TIMER))
        for other in (n - 1, n + 1):
            assert same < distance(box, still(template, AT + timedelta(seconds=other)).crop(TIMER))
    outside = ImageChops.difference(decoded[0], decoded[59])
    assert outside.crop((0, 0, 600, TIMER[1])).getbbox() is None, "only the timer changes"


def test_an_expired_countdown_is_one_frame(catalog):
    template = catalog.get("countdown_gif")
    result = render(plan(template, VALUES, at=datetime(2026, 11, 30, tzinfo=UTC))).encoded
    assert Image.open(io.BytesIO(result.data)).n_frames == 1 and result.frames == 1
    assert "ENDED" in fill(plan(template, VALUES, at=datetime(2026, 11, 30, tzinfo=UTC)))


def test_a_countdown_near_its_end_stops_there(catalog):
    template = catalog.get("countdown_gif")
    ends = {**VALUES, "ends_at": "2026-11-27T10:00:20+00:00"}
    result = render(plan(template, ends, at=AT)).encoded
    assert result.frames == 21  # 20 s, then the expired state


def test_daylight_saving_counts_real_seconds(catalog):
    """New York falls back on 2026-11-01: from 00:30 EDT to 03:00 EST is 3.5 hours, not 2.5."""
    template = catalog.get("countdown_gif")
    values = {**VALUES, "ends_at": "2026-11-01T03:00:00", "tz": "America/New_York"}
    at = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)  # 00:30 EDT
    assert ">03:30:00<" in fill(plan(template, values, at=at))
    assert "3:00 AM EST" in fill(plan(template, values, at=at))


def test_budget_pressure_says_what_it_gave_up(catalog):
    template = catalog.get("countdown_gif")
    result = render(plan(template, VALUES, at=AT, budget=100_000)).encoded
    assert len(result.data) <= 100_000
    assert result.notes and "a frame every" in result.notes[0]
    assert result.frames < 60
    gif = Image.open(io.BytesIO(result.data))
    durations = [f.info["duration"] for f in ImageSequence.Iterator(gif)]
    assert sum(durations) == 60_000 or durations[0] * (gif.n_frames - 1) < 60_000


def test_a_loop_shows_the_name_on_every_frame(catalog):
    template = catalog.get("product_loop")
    ana = render(plan(template, {"first_name": "Ana"})).encoded
    bob = render(plan(template, {"first_name": "Bob"})).encoded
    gif = Image.open(io.BytesIO(ana.data))
    assert gif.n_frames == 3 and gif.info["loop"] == 0
    assert [f.info["duration"] for f in ImageSequence.Iterator(gif)] == [1500, 1500, 2000]
    for a, b in zip(frames(ana.data), frames(bob.data), strict=True):
        difference = ImageChops.difference(a, b).convert("L")
        assert difference.crop((0, 440, 600, 540)).getbbox(), "the name changes on every frame"
        elsewhere = difference.crop((0, 0, 600, 440)).histogram()
        mean = sum(v * n for v, n in enumerate(elsewhere)) / (600 * 440)
        assert mean < 3, "and little else does"
    first, second = frames(ana.data)[:2]
    assert first.getpixel((10, 10)) != second.getpixel((10, 10)), "the slides differ"


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
    "<text>{{{{ first_name }}}}</text></svg>"
)


@pytest.mark.parametrize(
    ("size", "animation", "message"),
    [
        (
            (400, 400),
            'kind = "loop"\ndurations = [' + ", ".join(["100"] * 121) + "]",
            "frames must be a whole number from 1 to 120; got 121",
        ),
        (
            (1080, 1080),
            'kind = "loop"\ndurations = [' + ", ".join(["100"] * 30) + "]",
            "Mpx; at most 24 Mpx",
        ),
        ((400, 400), 'kind = "spin"', 'kind must be "countdown" or "loop"'),
        ((400, 400), 'kind = "countdown"\nends_at = "first_name"', "must name a datetime field"),
        ((400, 400), 'kind = "loop"\ndurations = [5]', "from 20 to 60,000; got 5"),
    ],
)
def test_animation_limits_are_enforced_at_load(make_template, size, animation, message):
    width, height = size
    manifest = (
        MANIFEST.replace('format = "jpg"', 'format = "gif"') + f"\n[animation]\n{animation}\n"
    )
    folder = make_template(
        SVG.format(w=width, h=height), manifest=manifest, width=width, height=height
    )
    with pytest.raises(TemplateError, match=message):
        load_template(folder)
    from renderer.core.lint import lint_folder

    assert lint_folder(folder)[0].severity == "error"


def test_an_animation_needs_gif(make_template):
    manifest = MANIFEST + '\n[animation]\nkind = "loop"\ndurations = [100, 100]\n'
    with pytest.raises(TemplateError, match='needs format = "gif"'):
        load_template(make_template(SVG.format(w=400, h=400), manifest=manifest))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_at": "next friday"}, "ends_at: must be an ISO 8601 time"),
        ({"tz": "America/Gotham"}, "tz: 'America/Gotham' is not an IANA time zone"),
    ],
)
def test_bad_ends_at_or_zone_is_a_400_naming_the_field(server, fields, message):
    from renderer.service.signing import sign_url

    url = sign_url(
        server.url,
        "countdown_gif",
        "gif",
        {**VALUES, **fields},
        kid=NEW[0],
        secret=NEW[1],
        at=1795000000,
    )
    response = httpx.get(url)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_countdown_gif_over_http(server):
    from renderer.service.signing import sign_url

    url = sign_url(
        server.url,
        "countdown_gif",
        "gif",
        VALUES,
        kid=NEW[0],
        secret=NEW[1],
        at=int(AT.timestamp()),
    )
    response = httpx.get(url, timeout=60)
    assert response.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(response.content)).n_frames == 60
