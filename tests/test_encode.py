"""The byte-budget encoder: always at or under the budget, at the best setting that fits."""

import io
import random

import pytest
from PIL import Image

from renderer.core.encode import MIN_QUALITY, QualityPredictor, encode
from renderer.core.errors import BudgetError
from renderer.core.limits import HARD_CAP_BYTES


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
    photo.convert("RGB").save(one_more, "JPEG", quality=result.quality + 1, subsampling=2)
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
    with pytest.raises(BudgetError, match="cannot fit jpg under 1,000 bytes"):
        encode(noisy_photo(), "jpg", 1_000)


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


def personalised(seed: int, size: int = 600) -> Image.Image:
    """The same noisy photo with a different small "name" patch, like a template's images."""
    image = noisy_photo(size, size, seed=1).convert("RGB")
    random.seed(seed)
    patch = Image.effect_noise((120, 30), 60 + seed % 7).convert("RGB")
    image.paste(patch, (40, 40))
    return image


def test_predicted_quality_takes_one_encode_on_a_steady_stream():
    predictor = QualityPredictor()
    results = [encode(personalised(seed), "jpg", 150_000, predictor) for seed in range(21)]
    assert all(len(r.data) <= 150_000 for r in results)
    steady = results[1:]
    assert sum(r.encodes for r in steady) / len(steady) <= 1.2
    for seed, result in zip(range(1, 21), steady, strict=True):
        searched = encode(personalised(seed), "jpg", 150_000)
        assert result.quality == searched.quality, "prediction gives the searched quality"


def test_prediction_misses_down_and_still_fits():
    predictor = QualityPredictor()
    encode(Image.new("RGB", (600, 600), (90, 90, 90)), "jpg", 60_000, predictor)  # easy: q95
    hard = encode(noisy_photo(600, 600), "jpg", 60_000, predictor)
    assert len(hard.data) <= 60_000 and hard.encodes > 1
    assert hard.quality == encode(noisy_photo(600, 600), "jpg", 60_000).quality


def test_prediction_misses_up_to_the_highest_that_fits():
    predictor = QualityPredictor()
    encode(noisy_photo(600, 600), "jpg", 120_000, predictor)  # hard: a low quality
    easier = Image.blend(noisy_photo(600, 600).convert("RGB"), Image.new("RGB", (600, 600)), 0.6)
    result = encode(easier, "jpg", 120_000, predictor)
    assert result.quality == encode(easier, "jpg", 120_000).quality
    assert len(result.data) <= 120_000


def test_steady_stream_of_a_bundled_template_at_tight_budgets(catalog):
    """Real renders of one template: the budget always holds, and after the first image the
    predicted quality nearly always fits in one encode."""
    from datetime import UTC, datetime

    from renderer.core.render import plan, render

    template = catalog.get("refer_friend")
    for budget in (100_000, 250_000):
        results = [
            render(
                plan(
                    template,
                    {"first_name": f"Name {i}", "referral_code": f"R-{i}"},
                    budget=budget,
                    at=datetime(2026, 11, 27, tzinfo=UTC),
                )
            ).encoded
            for i in range(15)
        ]
        assert all(len(r.data) <= budget for r in results)
        assert sum(r.encodes for r in results[1:]) / 14 <= 1.2
