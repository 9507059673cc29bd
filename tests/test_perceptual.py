"""Under a tight budget the encoder picks the size and quality that look best on a phone,
and never looks worse there than the quality-only search thumbor and imgproxy use."""

import io
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageFilter

from renderer.core import compose, fields, perceptual
from renderer.core.catalog import load_template
from renderer.core.encode import QualityPredictor, encode, flatten
from renderer.settings import BUNDLED_TEMPLATES


def quality_only(image: Image.Image, budget: int) -> tuple[bytes, int, int]:
    """thumbor's ``max_bytes``, written here from its description: the highest quality that
    fits at full size, and only when none does, 15% smaller steps. (data, quality, width)"""
    while True:
        low, high, best = 40, 95, None
        while low <= high:
            middle = (low + high) // 2
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=middle, subsampling=2)
            if buffer.tell() <= budget:
                best, low = (buffer.getvalue(), middle, image.width), middle + 1
            else:
                high = middle - 1
        if best:
            return best
        image = image.resize((round(image.width * 0.85), round(image.height * 0.85)))


def template_image(name: str) -> Image.Image:
    template = load_template(BUNDLED_TEMPLATES / name)
    values = fields.validate(template.fields, fields.example_values(template.fields, "sample"))
    root = template.parse(template.fill(values, datetime(2026, 11, 27, tzinfo=UTC)))
    compose.fit_dynamic(template.layers, root)
    size = (template.width, template.height)
    return flatten(compose.compose(template.layers, root, template.fetcher, size))


@pytest.mark.parametrize("name", ["low_stock", "refer_friend", "flash_sale"])
@pytest.mark.parametrize("budget", [100_000, 250_000])
def test_never_worse_on_a_phone_than_the_quality_only_search(name, budget):
    image = template_image(name)
    ours = encode(image, "jpg", budget, QualityPredictor())
    theirs, their_quality, _ = quality_only(image, budget)
    assert len(ours.data) <= budget
    mine, other = perceptual.display_ssim(image, ours.data), perceptual.display_ssim(image, theirs)
    assert mine >= other - 1e-9
    if their_quality < 80:  # where the full size rings and blocks, a smaller image wins
        assert ours.width < image.width and mine > other


def test_the_choice_is_remembered_and_judged_again_for_other_images():
    image = template_image("low_stock")
    predictor = QualityPredictor()
    first = encode(image, "jpg", 100_000, predictor)
    again = encode(image, "jpg", 100_000, predictor)
    assert again.width == first.width < image.width
    assert again.encodes < first.encodes, "the size is known: no judging this time"
    plain = Image.new("RGB", image.size, (240, 240, 240))
    assert encode(plain, "jpg", 100_000, predictor).width == image.width, "judged again"


def test_ssim_tells_identical_from_blurred():
    image = template_image("flash_sale")
    assert perceptual.ssim(image, image) == pytest.approx(1.0)
    blurred = image.filter(ImageFilter.GaussianBlur(3))
    assert perceptual.ssim(image, blurred) < 0.95
