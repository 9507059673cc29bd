"""The byte-budget encoder: always at or under the budget, at the best setting that fits."""

import io
import random

import pytest
from PIL import Image

from renderer.config import HARD_CAP_BYTES
from renderer.encode import MIN_QUALITY, encode
from renderer.errors import BudgetError


def noisy_photo(width: int = 1080, height: int = 1080, seed: int = 1) -> Image.Image:
    """A smooth gradient under heavy grain: the worst case for JPEG size."""
    random.seed(seed)
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 80).convert("RGB")
    return Image.blend(gradient, noise, 0.5).convert("RGBA")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_noisy_photo_at_100kb():
    result = encode(noisy_photo(), "jpg", 100_000)
    assert len(result.data) <= 100_000
    image = decode(result.data)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert result.quality is not None and result.quality >= MIN_QUALITY
    assert result.encodes > 1


def test_quality_is_the_highest_that_fits():
    photo = noisy_photo(600, 600)
    result = encode(photo, "jpg", 120_000)
    assert len(result.data) <= 120_000
    one_more = io.BytesIO()
    photo.convert("RGB").save(
        one_more, "JPEG", quality=result.quality + 1, subsampling=2, optimize=True
    )
    assert len(one_more.getvalue()) > 120_000


def test_small_image_keeps_top_quality_in_one_encode():
    result = encode(Image.new("RGB", (300, 300), (10, 120, 200)), "jpg", 500_000)
    assert (result.quality, result.encodes) == (95, 1)


def test_scales_down_when_quality_alone_cannot_fit():
    result = encode(noisy_photo(), "jpg", 30_000)
    assert len(result.data) <= 30_000
    image = decode(result.data)
    assert image.size == (result.width, result.height)
    assert image.width < 1080 and image.width == image.height


def test_budget_that_cannot_be_met_is_a_clear_error():
    with pytest.raises(BudgetError, match="cannot fit jpg under 1,500 bytes"):
        encode(noisy_photo(), "jpg", 1_500)


@pytest.mark.parametrize("budget", [HARD_CAP_BYTES + 1, 10_000_000])
def test_hard_cap_cannot_be_exceeded_by_any_setting(budget):
    with pytest.raises(BudgetError, match="over the 600,000-byte hard cap"):
        encode(noisy_photo(64, 64), "jpg", budget)


def test_png_is_lossless_when_it_fits():
    flat = Image.new("RGBA", (400, 400), (250, 20, 20, 255))
    result = encode(flat, "png", 500_000)
    assert result.colors is None
    assert decode(result.data).convert("RGBA").tobytes() == flat.tobytes()


def test_png_falls_back_to_a_palette():
    result = encode(noisy_photo(800, 800), "png", 400_000)
    assert len(result.data) <= 400_000
    assert result.colors in (256, 128, 64, 32)
    assert decode(result.data).mode == "P"


def test_gif_is_a_palette_within_budget():
    result = encode(noisy_photo(800, 800), "gif", 300_000)
    assert len(result.data) <= 300_000
    image = decode(result.data)
    assert image.format == "GIF" and image.mode == "P"


def test_jpeg_flattens_transparency_on_white():
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image = decode(encode(clear, "jpg", 100_000).data)
    assert min(image.getpixel((32, 32))) >= 250


def test_unknown_format():
    with pytest.raises(ValueError, match="format must be jpg, png or gif; got 'webp'"):
        encode(noisy_photo(64, 64), "webp", 100_000)
