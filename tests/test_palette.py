"""PNG and GIF palettes: the template's colours stay exact, opaque stays opaque, and a tight
budget is found in a few encodes. Real renders of the bundled templates, decoded."""

import io

import numpy as np
import pytest
from PIL import Image

from renderer.core import palette, raster, render
from renderer.core.encode import encode

from .conftest import AT

YELLOW = (0xFF, 0xD2, 0x3F)


def drawn(catalog, name: str, values: dict, format: str, budget: int | None = None):
    """The job, and the picture before encoding (the filled SVG rasterized whole)."""
    job = render.plan(
        catalog.get(name), values, format=format, budget=budget, at=render.parse_at(AT)
    )
    template = job.template
    svg = render.fill(job).encode()
    picture = raster.rasterize(svg, template.fetcher, template.width, template.height)
    return job, np.asarray(picture.convert("RGB"))


def exact(pixels: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.all(pixels == rgb, axis=-1)


def test_template_colours_come_from_fills_strokes_and_stops():
    svg = (
        '<svg><rect fill="#FFD23F"/><path stroke="#fff"/><stop stop-color="#0b0b12"/>'
        '<text style="fill: #e4572e">x</text><rect fill="#ffd23f"/></svg>'
    )
    assert palette.template_colors(svg) == (
        YELLOW,
        (255, 255, 255),
        (11, 11, 18),
        (0xE4, 0x57, 0x2E),
    )


@pytest.mark.parametrize("name", ["flash_sale", "countdown_gif"])
def test_brand_yellow_and_white_survive_the_palette(catalog, name):
    job, before = drawn(
        catalog, name, {"first_name": "Ana"}, "png" if name == "flash_sale" else "gif"
    )
    done = render.render(job)
    assert done.encoded.colors is not None  # a palette, not lossless
    with Image.open(io.BytesIO(done.encoded.data)) as decoded:
        after = np.asarray(decoded.convert("RGB"))
    for colour in (YELLOW, (255, 255, 255)):
        were = exact(before, colour)
        assert were.sum() > 4000, colour  # the template shows it
        kept = exact(after[were], colour).mean()
        assert kept >= 0.99, (colour, kept)  # dithering may touch a few edge pixels
    # and they are not one colour: yellow text does not turn white, nor white yellow
    assert exact(after[exact(before, YELLOW)], (255, 255, 255)).mean() < 0.01


def test_an_opaque_design_has_no_alpha_channel(catalog):
    job, _ = drawn(catalog, "product_loop", {"first_name": "Ana"}, "png")
    done = render.render(job)
    with Image.open(io.BytesIO(done.encoded.data)) as decoded:
        assert decoded.mode in ("RGB", "P")
        assert "transparency" not in decoded.info
        assert decoded.convert("RGBA").getchannel("A").getextrema() == (255, 255)


def test_transparency_is_kept_where_the_design_has_it():
    image = Image.new("RGBA", (300, 300), (200, 30, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 150, 300))
    with Image.open(io.BytesIO(encode(image, "png", 100_000).data)) as decoded:
        assert decoded.convert("RGBA").getpixel((10, 10))[3] == 0


def test_a_100kb_png_of_a_photo_template_takes_a_few_encodes(catalog):
    job, _ = drawn(
        catalog, "low_stock", {"product_name": "Ethiopia Yirgacheffe", "stock": 12}, "png", 100_000
    )
    done = render.render(job)
    assert len(done.encoded.data) <= 100_000
    assert done.encoded.encodes <= 4, done.encoded.describe()
    with Image.open(io.BytesIO(done.encoded.data)) as decoded:
        assert decoded.format == "PNG" and decoded.width < 1080  # scaled to fit
