"""Encode an image at or under a byte budget, always.

JPEG takes the highest quality that fits, found by binary search over the quality (baseline,
4:2:0, optimized Huffman tables: they save a few percent, which buys quality). PNG is
lossless when that fits, else palette-quantized to fewer and fewer colours. GIF is a palette.
When even the lowest allowed setting does not fit, the image is scaled down in steps; when
that fails too, BudgetError. Unlike thumbor, an oversized image is never returned.
"""

import io
from dataclasses import dataclass

from PIL import Image

from renderer.config import HARD_CAP_BYTES
from renderer.errors import BudgetError

FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}
MIN_QUALITY, MAX_QUALITY = 40, 95  # over 95 JPEG grows with nothing to see
PALETTE_STEPS = (256, 128, 64, 32)
SCALE_STEP = 0.85
MIN_SIDE_PX = 160
MIN_BUDGET_BYTES = 1_000


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str  # jpg, png or gif
    quality: int | None  # JPEG quality; None for lossless or palette
    colors: int | None  # palette size; None for JPEG and lossless PNG
    width: int
    height: int
    encodes: int  # how many encodes it took to find this one

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def describe(self) -> str:
        setting = f"q={self.quality}" if self.quality else f"{self.colors or 'all'} colours"
        return f"{self.format} {self.width}x{self.height} {setting} {len(self.data):,} bytes"


def normalize_format(name: str) -> str:
    """``jpg``, ``png`` or ``gif`` from any spelling the user may write; ValueError otherwise."""
    key = name.lower().lstrip(".")
    if key not in FORMATS:
        raise ValueError(f"format must be jpg, png or gif; got {name!r}")
    return "jpg" if key == "jpeg" else key


def check_budget(budget: int) -> int:
    """The budget itself, if it is one the carriers can take; BudgetError otherwise."""
    if budget > HARD_CAP_BYTES:
        raise BudgetError(
            f"budget {budget:,} bytes is over the {HARD_CAP_BYTES:,}-byte hard cap "
            "(carriers reject larger MMS media)"
        )
    if budget < MIN_BUDGET_BYTES:
        raise BudgetError(f"budget {budget:,} bytes is under the minimum {MIN_BUDGET_BYTES:,}")
    return budget


def encode(image: Image.Image, format: str, budget: int) -> Encoded:
    """``image`` in ``format`` at or under ``budget`` bytes, as good as the budget allows."""
    budget = check_budget(budget)
    format = normalize_format(format)
    image = _flatten(image) if format == "jpg" else image
    encodes = 0
    while True:
        found, tries = _best_fit(image, format, budget)
        encodes += tries
        if found is not None:
            data, quality, colors = found
            return Encoded(data, format, quality, colors, image.width, image.height, encodes)
        smaller = (round(image.width * SCALE_STEP), round(image.height * SCALE_STEP))
        if min(smaller) < MIN_SIDE_PX:
            raise BudgetError(
                f"cannot fit {format} under {budget:,} bytes even at "
                f"{image.width}x{image.height} with the lowest quality; raise the budget"
            )
        image = image.resize(smaller, Image.Resampling.LANCZOS)


def _best_fit(image: Image.Image, format: str, budget: int):
    """((data, quality, colours), encodes) for the best setting at this size, or (None, n)."""
    if format == "jpg":
        return _search_quality(image, budget)
    tries = 0
    if format == "png":
        data = _save(image, "PNG")
        tries += 1
        if len(data) <= budget:
            return (data, None, None), tries
    for colors in PALETTE_STEPS:
        data = _save(_palette(image, colors), FORMATS[format])
        tries += 1
        if len(data) <= budget:
            return (data, None, colors), tries
    return None, tries


def _search_quality(image: Image.Image, budget: int):
    """The highest JPEG quality at or under the budget: the top one first, then bisection."""
    data = _jpeg(image, MAX_QUALITY)
    if len(data) <= budget:
        return (data, MAX_QUALITY, None), 1
    low, high, best, tries = MIN_QUALITY, MAX_QUALITY - 1, None, 1
    while low <= high:
        quality = (low + high) // 2
        data = _jpeg(image, quality)
        tries += 1
        if len(data) <= budget:
            best, low = (data, quality, None), quality + 1
        else:
            high = quality - 1
    return best, tries


def _jpeg(image: Image.Image, quality: int) -> bytes:
    return _save(image, "JPEG", quality=quality, subsampling=2, optimize=True)


def _save(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite on white, as a phone shows a transparent PNG."""
    if image.mode == "RGB":
        return image
    if image.mode != "RGBA":
        return image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _palette(image: Image.Image, colors: int) -> Image.Image:
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255:
        return image.quantize(colors, method=Image.Quantize.FASTOCTREE)
    return image.convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT)
