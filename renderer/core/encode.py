"""Encode an image at or under a byte budget, always.

JPEG takes the highest quality that fits (baseline, 4:2:0). A template's images differ by a
name or a number, which moves the JPEG size by well under 1%, so the quality that fitted the
last image of a template (``QualityPredictor``) is tried first and verified with one encode;
only a miss, down or predictably up, searches (bisection). Optimized Huffman tables cost 2.3-3x
the encode time for about 2% of size, half a quality step: they are used only where that 2%
decides between the lowest quality and scaling the image down. PNG is
lossless when that fits, else palette-quantized to fewer and fewer colours. GIF is a palette.
When even the lowest allowed setting does not fit, the image is scaled down in steps; when
that fails too, BudgetError. Unlike thumbor, an oversized image is never returned.
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageChops

from renderer.core.errors import BudgetError
from renderer.core.limits import (
    HARD_CAP_BYTES,
    MAX_QUALITY,
    MIN_BUDGET_BYTES,
    MIN_QUALITY,
    MIN_SIDE_PX,
)

FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}
PALETTE_STEPS = (256, 128, 64, 32)
SCALE_STEP = 0.85


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str  # jpg, png or gif
    quality: int | None  # JPEG quality; None for lossless or palette
    colors: int | None  # palette size; None for JPEG and lossless PNG
    width: int
    height: int
    encodes: int  # how many encodes it took to find this one
    frames: int = 1
    notes: tuple[str, ...] = ()  # what an animation gave up to fit the budget

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def describe(self) -> str:
        setting = f"q={self.quality}" if self.quality else f"{self.colors or 'all'} colours"
        frames = f" {self.frames} frames" if self.frames > 1 else ""
        gave_up = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (
            f"{self.format} {self.width}x{self.height}{frames} {setting} "
            f"{len(self.data):,} bytes{gave_up}"
        )


def normalize_format(name: str) -> str:
    """``jpg``, ``png`` or ``gif`` from any spelling the user may write; ValueError otherwise."""
    key = name.lower().lstrip(".") if isinstance(name, str) else None
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


class QualityPredictor:
    """Per byte budget: the JPEG quality that fitted last time, and how much one more step of
    quality grew the file then (so it can tell whether the next step would fit now)."""

    def __init__(self) -> None:
        self._memory: dict[int, Memory] = {}

    def recall(self, budget: int) -> "Memory | None":
        return self._memory.get(budget)

    def remember(self, budget: int, memory: "Memory") -> None:
        self._memory[budget] = memory


@dataclass(frozen=True)
class Memory:
    quality: int
    step: float | None  # size(quality + 1) / size(quality) - 1, when seen
    optimized: bool = False  # it took the lowest quality with optimized tables


def encode(
    image: Image.Image, format: str, budget: int, predictor: QualityPredictor | None = None
) -> Encoded:
    """``image`` in ``format`` at or under ``budget`` bytes, as good as the budget allows."""
    budget = check_budget(budget)
    format = normalize_format(format)
    image = _flatten(image) if format == "jpg" else image
    encodes = 0
    while True:
        found, tries = _best_fit(image, format, budget, predictor if encodes == 0 else None)
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


TICKS = (1, 2, 3, 5, 10, 15, 30, 60)  # seconds a countdown frame may stand for


def encode_animation(
    images: list[Image.Image], durations: list[int], budget: int, countdown: bool
) -> Encoded:
    """An animated GIF at or under ``budget``, looping. When it does not fit it gives up, in
    this order: frames (a ``countdown`` ticks every 2, 3, 5... seconds instead), then
    colours, then size; ``notes`` says what it gave up.

    All frames share one palette (a countdown's first frame's; a loop's, from a mosaic of its
    slides), and each frame differs from the first only where it was drawn differently (only
    that box is re-quantized), so Pillow stores each frame as the small rectangle that changed.
    """
    budget = check_budget(budget)
    images = [image.convert("RGB") for image in images]
    encodes, scale = 0, 1.0
    while True:
        for colors in PALETTE_STEPS:
            for tick in TICKS if countdown and len(images) > 1 else (1,):
                if tick > 1 and tick >= len(images) * 2:
                    break
                data = _gif(images[::tick], _merged(durations, tick), colors, countdown)
                encodes += 1
                if len(data) <= budget:
                    notes = []
                    if tick > 1:
                        notes.append(f"a frame every {tick} s instead of every second")
                    if colors < PALETTE_STEPS[0]:
                        notes.append(f"{colors} colours instead of 256")
                    if scale < 1:
                        notes.append(f"scaled to {images[0].width}x{images[0].height}")
                    width, height = images[0].size
                    return Encoded(
                        data,
                        "gif",
                        None,
                        colors,
                        width,
                        height,
                        encodes,
                        frames=len(images[::tick]),
                        notes=tuple(notes),
                    )
        smaller = (round(images[0].width * SCALE_STEP), round(images[0].height * SCALE_STEP))
        if min(smaller) < MIN_SIDE_PX:
            raise BudgetError(f"cannot fit the animation under {budget:,} bytes; raise the budget")
        scale *= SCALE_STEP
        images = [image.resize(smaller, Image.Resampling.LANCZOS) for image in images]


def _gif(images: list[Image.Image], durations: list[int], colors: int, countdown: bool) -> bytes:
    first = images[0]
    palette = _shared_palette(images[:1] if countdown else images, colors)
    base = first.quantize(palette=palette)
    frames = [base]
    for image in images[1:]:
        frame = base.copy()
        box = ImageChops.difference(image, first).getbbox()
        if box:
            frame.paste(image.crop(box).quantize(palette=palette), box[:2])
        frames.append(frame)
    buffer = io.BytesIO()
    if len(frames) == 1:
        base.save(buffer, "GIF")
    else:
        base.save(
            buffer, "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
        )
    return buffer.getvalue()


def _shared_palette(images: list[Image.Image], colors: int) -> Image.Image:
    """One palette for every frame, from a mosaic of a few of them (a loop's slides differ)."""
    if len(images) == 1:
        return images[0].quantize(colors, method=Image.Quantize.MEDIANCUT)
    picks = images[:: max(1, len(images) // 6)][:6]
    width, height = images[0].width // 2, images[0].height // 2
    mosaic = Image.new("RGB", (width * len(picks), height))
    for index, image in enumerate(picks):
        mosaic.paste(image.resize((width, height)), (index * width, 0))
    return mosaic.quantize(colors, method=Image.Quantize.MEDIANCUT)


def _merged(durations: list[int], tick: int) -> list[int]:
    return [sum(durations[i : i + tick]) for i in range(0, len(durations), tick)]


def _best_fit(image: Image.Image, format: str, budget: int, predictor: QualityPredictor | None):
    """((data, quality, colours), encodes) for the best setting at this size, or (None, n)."""
    if format == "jpg":
        return _JpegSearch(image, budget).run(predictor)
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


class _JpegSearch:
    """The highest JPEG quality that fits one image, in as few encodes as can be."""

    def __init__(self, image: Image.Image, budget: int):
        self.image, self.budget = image, budget
        self.sizes: dict[int, int] = {}  # quality -> size
        self.best: tuple[bytes, int, None] | None = None
        self.optimized = False  # the best is the lowest quality with optimized tables
        self.tries = 0

    def run(self, predictor: QualityPredictor | None):
        memory = predictor.recall(self.budget) if predictor else None
        if memory is None:
            self._search()
        elif memory.optimized:
            if not self._fits_lowest() or len(self.best[0]) < self.budget * 0.9:
                self._search()  # it got easier: a plain quality may fit again
        elif self._fits(memory.quality):
            size = self.sizes[memory.quality]
            grown = size * (1 + memory.step) if memory.step is not None else None
            if memory.quality < MAX_QUALITY and grown is not None and grown <= self.budget * 0.99:
                self._bisect(memory.quality + 1, MAX_QUALITY)  # it would fit higher now
        elif memory.quality > MIN_QUALITY and not self._fits(memory.quality - 1):
            self._bisect(MIN_QUALITY, memory.quality - 2)  # a miss is nearly always one step
        if self.best is None:
            self._fits_lowest()
        if predictor and self.best:
            quality = self.best[1]
            here, above = self.sizes.get(quality), self.sizes.get(quality + 1)
            step = above / here - 1 if here and above else (memory.step if memory else None)
            predictor.remember(self.budget, Memory(quality, step, self.optimized))
        return self.best, self.tries

    def _search(self) -> None:
        self.best, self.optimized = None, False
        if not self._fits(MAX_QUALITY):
            self._bisect(MIN_QUALITY, MAX_QUALITY - 1)

    def _bisect(self, low: int, high: int) -> None:
        while low <= high:
            middle = (low + high) // 2
            if self._fits(middle):
                low = middle + 1
            else:
                high = middle - 1

    def _fits(self, quality: int) -> bool:
        data = _jpeg(self.image, quality, optimize=False)
        self.tries += 1
        self.sizes[quality] = len(data)
        if len(data) > self.budget:
            return False
        if self.best is None or quality > self.best[1]:
            self.best, self.optimized = (data, quality, None), False
        return True

    def _fits_lowest(self) -> bool:
        """The last 2% before scaling down: the lowest quality with optimized tables."""
        data = _jpeg(self.image, MIN_QUALITY, optimize=True)
        self.tries += 1
        if len(data) > self.budget:
            return False
        self.best, self.optimized = (data, MIN_QUALITY, None), True
        return True


def _jpeg(image: Image.Image, quality: int, optimize: bool) -> bytes:
    return _save(image, "JPEG", quality=quality, subsampling=2, optimize=optimize)


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
