"""Partial JPEG encoding: an image made of the template's kept rows and its freshly encoded
band is, byte for byte, the JPEG a whole encode with the same restart interval writes; it is
never over its budget; and decoders that are not ours read it the same."""

import base64
import io
import random

import pytest
from PIL import Image, ImageChops

from renderer.core import compose, jpeg
from renderer.core.catalog import load_template
from renderer.core.encode import flatten, jpeg_bytes
from renderer.core.render import plan, render
from renderer.settings import BUNDLED_TEMPLATES

from .test_compose import NOW, random_value
from .test_studio import page  # noqa: F401  (the Chromium fixture)
from .test_templates import NAMES

LAYERED_JPEG = [
    name
    for name in NAMES
    if (t := load_template(BUNDLED_TEMPLATES / name)).layers.layered and t.animation is None
]


def whole_encode(template, job, quality: int) -> bytes:
    """The reference: every row drawn and the whole image encoded at once."""
    root = template.parse(template.fill(job.values, job.now))
    compose.fit_dynamic(template.layers, root)
    image = compose.compose(
        template.layers, root, template.fetcher, (template.width, template.height)
    )
    return jpeg_bytes(flatten(image), quality)


@pytest.mark.parametrize("name", LAYERED_JPEG)
def test_spliced_images_are_the_whole_encode_byte_for_byte(name):
    template = load_template(BUNDLED_TEMPLATES / name)
    rng = random.Random(name)
    value_sets = [
        {n: v for n, f in template.fields.items() if (v := random_value(f, rng)) is not None}
        for _ in range(12)
    ]
    value_sets += value_sets[:3]  # repeats: their rows come from the kept recurring rows
    for raw in value_sets:
        job = plan(template, raw, format="jpg", at=NOW)
        encoded = render(job).encoded
        assert encoded.data == whole_encode(template, job, encoded.quality), raw
        assert len(encoded.data) <= job.budget


@pytest.mark.parametrize("budget", [100_000, 250_000, 450_000])
def test_spliced_images_fit_any_budget_exactly(budget):
    template = load_template(BUNDLED_TEMPLATES / "low_stock")
    for first_name in ("Ana", "Bartholomew", "Zoë", "Ана", "Ana"):
        raw = {"product_name": "Ethiopia Yirgacheffe", "first_name": first_name, "stock": "12"}
        job = plan(template, raw, format="jpg", budget=budget, at=NOW)
        encoded = render(job).encoded
        assert len(encoded.data) <= budget
        with Image.open(io.BytesIO(encoded.data)) as decoded:
            assert decoded.size == (encoded.width, encoded.height)
            decoded.load()


def test_cut_and_splice_give_back_the_same_file():
    rng = random.Random(7)
    for width, height in ((16, 16), (1080, 1080), (601, 333), (33, 1)):
        noise = Image.frombytes(
            "RGB", (width, height), bytes(rng.randrange(256) for _ in range(width * height * 3))
        )
        data = jpeg_bytes(noise, rng.randint(40, 95))
        pieces = jpeg.cut(data)
        assert len(pieces.segments) == -(-height // jpeg.MCU_ROWS)
        assert jpeg.splice(pieces.header, pieces.segments) == data
        assert jpeg.joined_size(pieces.header, pieces.segments) == len(data)
    with pytest.raises(ValueError):
        jpeg.cut(b"\xff\xd8\x00\x00not a jpeg")


def test_chromium_decodes_a_spliced_image_as_pillow_does(page):  # noqa: F811
    template = load_template(BUNDLED_TEMPLATES / "flash_sale")
    render(plan(template, {"first_name": "Ana"}, at=NOW))  # the static rows are kept now
    job = plan(template, {"first_name": "Zoë Ann"}, at=NOW)
    data = render(job).encoded.data
    assert data == whole_encode(template, job, render(job).encoded.quality)
    ours = Image.open(io.BytesIO(data)).convert("RGB")
    uri = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    page.set_content("<canvas id=c></canvas>")
    pixels = page.evaluate(
        """async (uri) => {
            const image = new Image(); image.src = uri; await image.decode();
            const canvas = document.getElementById('c');
            canvas.width = image.width; canvas.height = image.height;
            const context = canvas.getContext('2d');
            context.drawImage(image, 0, 0);
            const data = context.getImageData(0, 0, image.width, image.height).data;
            let rgb = ''; for (let i = 0; i < data.length; i += 4)
              rgb += String.fromCharCode(data[i], data[i + 1], data[i + 2]);
            return [image.width, image.height, btoa(rgb)];
        }""",
        uri,
    )
    width, height, rgb = pixels
    theirs = Image.frombytes("RGB", (width, height), base64.b64decode(rgb))
    difference = max(high for _, high in ImageChops.difference(ours, theirs).getextrema())
    assert difference == 0, "Chromium's decoder reads the spliced file as libjpeg-turbo does"
