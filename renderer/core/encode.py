"""Encode an image at or under a byte budget, always.

JPEG takes the highest quality that fits (baseline, 4:2:0). A template's images differ by a
name or a number, which moves the JPEG size by well under 1%, so the quality that fitted the
last image of a template (``QualityPredictor``) is tried first and verified with one encode;
only a miss, down or predictably up, searches (bisection). Optimized Huffman tables cost 2.3-3x
the encode time for about 2% of size, half a quality step: they are used only where that 2%
decides between the lowest quality and scaling the image down. PNG is
lossless when that fits, else a palette (``palette.py``) of fewer and fewer colours, each count
predicted from the first encode so a step that cannot fit is skipped. GIF is a palette.
When even the lowest allowed setting does not fit, the image is scaled down in steps; when
that fails too, BudgetError. Unlike thumbor, an oversized image is never returned.
"""

import dataclasses
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from renderer.core import palette, perceptual
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
RESCALE_BELOW = 80  # a full-size JPEG under this quality is compared with smaller ones
RESCALE_SLACK = 4  # quality steps an image may move before its scale is judged again
LOSSLESS_GAIN = 1.6  # level 6 saves at most about 1 - 1/1.6 of a fast PNG (measured: 0-40%)
RESCALES = tuple(SCALE_STEP**n for n in range(1, 12))  # 0.85, 0.72, 0.61 ...


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
    """Per byte budget: the scale that looked best on a phone (once judged), and per budget and
    width the JPEG quality that fitted last time, with how much one more step of quality grew
    the file then (so it can tell whether the next step would fit now)."""

    def __init__(self) -> None:
        self._memory: dict[tuple[int, int], Memory] = {}
        self._scales: dict[int, tuple[float, int]] = {}  # budget -> (scale, its quality)

    def recall(self, key: tuple[int, int]) -> "Memory | None":
        return self._memory.get(key)

    def remember(self, key: tuple[int, int], memory: "Memory") -> None:
        self._memory[key] = memory

    def scale(self, budget: int) -> float | None:
        """The scale judged best for ``budget``, or None before any judging."""
        judged = self._scales.get(budget)
        return judged[0] if judged else None

    def judged(self, budget: int, scale: float, quality: int) -> None:
        self._scales[budget] = (scale, quality)

    def still_holds(self, budget: int, quality: int) -> bool:
        """Whether an image fits at about the quality the judging saw: the images are alike,
        so the same scale still looks best (a much easier or harder one is judged again)."""
        judged = self._scales.get(budget)
        return judged is not None and abs(judged[1] - quality) <= RESCALE_SLACK


@dataclass(frozen=True)
class Memory:
    quality: int
    step: float | None  # size(quality + 1) / size(quality) - 1, when seen
    optimized: bool = False  # it took the lowest quality with optimized tables


def encode(
    image: Image.Image,
    format: str,
    budget: int,
    predictor: QualityPredictor | None = None,
    keep: tuple[tuple[int, int, int], ...] = (),
) -> Encoded:
    """``image`` in ``format`` at or under ``budget`` bytes, as good as the budget allows.
    ``keep``: colours a PNG or GIF palette keeps exact (the template's, ``palette.py``)."""
    budget = check_budget(budget)
    format = normalize_format(format)
    if format == "jpg":
        return _jpeg(flatten(image), budget, predictor or QualityPredictor())
    return _indexed(palette.opaque(image), format, budget, keep)


def _indexed(image: Image.Image, format: str, budget: int, keep: tuple) -> Encoded:
    """PNG lossless when that fits (looked at with a fast compression level, then the
    default one only when that could fit), else (and GIF) a palette: 256 colours, then fewer, then
    smaller. A palette is chosen from a small copy of the image and each step only maps the
    image into it; the size of the 256-colour encode predicts which step can fit (a palette
    of c colours writes about log2(c)/8 of its bytes, a scale s about s² of them), so
    steps that cannot fit are never encoded."""
    encodes, scale_to = 0, image
    kept = palette.shown(image, keep) if keep and image.mode == "RGB" else ()
    if format == "png":
        data = _save(image, "PNG", compress_level=1)  # a quarter of the time of level 6
        encodes += 1
        if budget < len(data) <= budget * LOSSLESS_GAIN:  # level 6 might just fit
            data = _save(image, "PNG")
            encodes += 1
        if len(data) <= budget:
            return Encoded(data, format, None, None, image.width, image.height, encodes)
    while True:
        full = None
        for colors in PALETTE_STEPS:
            if full is not None and full * math.log2(colors) / 8 > budget:
                continue  # predicted not to fit
            data = _save(_palette(scale_to, colors, kept), FORMATS[format])
            encodes += 1
            if len(data) <= budget:
                w, h = scale_to.size
                return Encoded(data, format, None, colors, w, h, encodes)
            full = full or len(data)
        factor = min(SCALE_STEP, math.sqrt(budget * 0.95 / full))
        smaller = (round(scale_to.width * factor), round(scale_to.height * factor))
        if min(smaller) < MIN_SIDE_PX:
            raise BudgetError(
                f"cannot fit {format} under {budget:,} bytes even at "
                f"{scale_to.width}x{scale_to.height} with the lowest quality; raise the budget"
            )
        scale_to = image.resize(smaller, Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, budget: int, predictor: QualityPredictor) -> Encoded:
    """The JPEG that looks best on a phone within ``budget``. At full size when that fits at a
    good quality; else the full size and smaller sizes are each given their best quality, and
    the one with the highest SSIM at the phone's display size wins (remembered per budget, so
    later images go straight to that size)."""
    scale = predictor.scale(budget)
    if scale is not None and scale < 1.0:
        found = _at_scale(image, scale, budget, predictor)
        if found is not None and predictor.still_holds(budget, found.quality):
            return found
    full = _at_scale(image, 1.0, budget, predictor)
    if full is not None and full.quality >= RESCALE_BELOW:
        return full
    if full is not None and scale == 1.0 and predictor.still_holds(budget, full.quality):
        return full
    candidates = [full] if full is not None else []
    encodes = full.encodes if full is not None else 0
    for scale in RESCALES:
        found = _at_scale(image, scale, budget, predictor)
        if found is None:
            continue
        encodes += found.encodes
        candidates.append(found)
        if len(candidates) >= 3:
            break
    if not candidates:
        raise BudgetError(
            f"cannot fit jpg under {budget:,} bytes even at {round(image.width * RESCALES[-1])}"
            " px wide with the lowest quality; raise the budget"
        )
    best = max(candidates, key=lambda c: perceptual.display_ssim(image, c.data))
    predictor.judged(budget, best.width / image.width, best.quality)
    return dataclasses.replace(best, encodes=encodes)


def _at_scale(
    image: Image.Image, scale: float, budget: int, predictor: QualityPredictor
) -> Encoded | None:
    if scale < 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        if min(size) < MIN_SIDE_PX:
            return None
        image = image.resize(size, Image.Resampling.LANCZOS)
    found, tries = JpegSearch(budget, _whole(image), (budget, image.width)).run(predictor)
    if found is None:
        return None
    data, quality, _ = found
    return Encoded(data, "jpg", quality, None, image.width, image.height, tries)


@dataclass(frozen=True)
class Candidate:
    """An encode whose size is known; ``write`` makes its bytes (a spliced JPEG is only
    joined once it is chosen)."""

    size: int
    write: Callable[[], bytes]


# (quality, optimized Huffman tables?) -> the encode, or None where it cannot be had
EncodeAt = Callable[[int, bool], Candidate | None]


def jpeg_bytes(image: Image.Image, quality: int, optimize: bool = False) -> bytes:
    """Baseline 4:2:0, with a restart marker after every MCU row: every JPEG we write, so that
    a whole encode and a spliced one (``jpeg.py``) are the same bytes."""
    return _save(
        image, "JPEG", quality=quality, subsampling=2, optimize=optimize, restart_marker_rows=1
    )


def _whole(image: Image.Image) -> EncodeAt:
    def encode_at(quality: int, optimize: bool) -> Candidate:
        data = jpeg_bytes(image, quality, optimize)
        return Candidate(len(data), lambda: data)

    return encode_at


class JpegSearch:
    """The highest JPEG quality that fits one image, in as few encodes as can be."""

    def __init__(self, budget: int, encode_at: EncodeAt, key: tuple[int, int]):
        self.budget, self.encode_at, self.key = budget, encode_at, key
        self.sizes: dict[int, int] = {}  # quality -> size
        self.best: tuple[Candidate, int] | None = None
        self.optimized = False  # the best is the lowest quality with optimized tables
        self.tries = 0

    def run(self, predictor: QualityPredictor | None):
        memory = predictor.recall(self.key) if predictor else None
        if memory is None:
            self._search()
        elif memory.optimized:
            if not self._fits_lowest() or self.best[0].size < self.budget * 0.9:
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
            predictor.remember(self.key, Memory(quality, step, self.optimized))
        if self.best is None:
            return None, self.tries
        return (self.best[0].write(), self.best[1], None), self.tries

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
        candidate = self.encode_at(quality, False)
        self.tries += 1
        self.sizes[quality] = candidate.size
        if candidate.size > self.budget:
            return False
        if self.best is None or quality > self.best[1]:
            self.best, self.optimized = (candidate, quality), False
        return True

    def _fits_lowest(self) -> bool:
        """The last 2% before scaling down: the lowest quality with optimized tables."""
        candidate = self.encode_at(MIN_QUALITY, True)
        if candidate is None:
            return False
        self.tries += 1
        if candidate.size > self.budget:
            return False
        self.best, self.optimized = (candidate, MIN_QUALITY), True
        return True


def _save(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite on white, as a phone shows a transparent PNG."""
    if image.mode == "RGB":
        return image
    if image.mode != "RGBA":
        return image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _palette(image: Image.Image, colors: int, keep: tuple) -> Image.Image:
    if image.mode == "RGBA":  # a design with see-through parts: alpha is one more channel
        return image.quantize(colors, method=Image.Quantize.FASTOCTREE)
    return palette.apply(image, palette.build(image, colors, keep))
