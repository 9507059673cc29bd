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

import contextlib
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache
from PIL import Image, ImageChops

from renderer.core import gif, jpeg
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


class StaticRows:
    """A template's rows as JPEG segments, per quality: the static image's (encoded once, the
    first time a quality is tried, for a few qualities), and rows whose drawing recurs (a
    campaign's QR code), kept by what is drawn on them, within a byte bound."""

    QUALITIES = 8  # static images kept: a steady stream uses one or two qualities
    RECURRING_BYTES = 8_000_000

    def __init__(self, static: Callable[[], Image.Image]):
        self._static = static  # drawn only when first needed
        self._pieces: dict[int, jpeg.Pieces] = {}
        self._recurring: LRUCache[tuple[int, int, bytes], bytes] = LRUCache(
            self.RECURRING_BYTES, getsizeof=len
        )
        self._lock = threading.Lock()

    def pieces(self, quality: int) -> jpeg.Pieces:
        with self._lock:
            found = self._pieces.get(quality)
            if found is None:
                found = jpeg.cut(jpeg.encode(_flatten(self._static()), quality))
                if len(self._pieces) >= self.QUALITIES:
                    del self._pieces[next(iter(self._pieces))]
                self._pieces[quality] = found
            return found

    def recurring(self, quality: int, row: int, key: bytes | None) -> bytes | None:
        if key is None:
            return None
        with self._lock:
            return self._recurring.get((quality, row, key))

    def keep(self, quality: int, row: int, key: bytes | None, segment: bytes) -> None:
        if key is not None:
            with self._lock, contextlib.suppress(ValueError):
                self._recurring[quality, row, key] = segment


def encode_rows(
    bands: list[tuple[int, Image.Image]],
    keys: dict[int, bytes | None],
    size: tuple[int, int],
    rows: StaticRows,
    budget: int,
    predictor: QualityPredictor | None = None,
) -> Encoded | None:
    """A JPEG of the template's static image with ``bands`` (first pixel row, a multiple of
    ``jpeg.MCU_ROWS``; the rows) drawn over it: only rows never seen are encoded, the rest
    spliced from ``rows``. ``keys`` names what is drawn on a row whose drawing recurs. None
    when the budget needs more than a plain quality (optimized tables, or a smaller image):
    the caller then encodes the whole image."""
    budget = check_budget(budget)
    step = jpeg.MCU_ROWS
    flat = [(first // step, _flatten(image)) for first, image in bands]

    def encode_at(quality: int, optimize: bool) -> _Candidate | None:
        if optimize:
            return None
        static = rows.pieces(quality)
        segments = list(static.segments)
        for start, image in flat:
            fresh = []  # rows to encode: not kept from an earlier image
            for row in range(start, start + -(-image.height // step)):
                kept = rows.recurring(quality, row, keys.get(row))
                if kept is None:
                    fresh.append(row)
                else:
                    segments[row] = kept
            for first, end in _spans(fresh):
                crop = image.crop((0, (first - start) * step, image.width, (end - start) * step))
                encoded = jpeg.cut(jpeg.encode(crop, quality)).segments
                segments[first:end] = encoded
                for row, segment in zip(range(first, end), encoded, strict=True):
                    rows.keep(quality, row, keys.get(row), segment)
        return _Candidate(
            jpeg.joined_size(static.header, segments),
            lambda: jpeg.splice(static.header, segments),
        )

    found, tries = _JpegSearch(budget, encode_at).run(predictor)
    if found is None:
        return None
    data, quality, _ = found
    return Encoded(data, "jpg", quality, None, size[0], size[1], tries)


def _spans(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive rows as (first, end) spans: ``[3, 4, 5, 9]`` -> ``[(3, 6), (9, 10)]``."""
    spans: list[tuple[int, int]] = []
    for row in rows:
        if spans and spans[-1][1] == row:
            spans[-1] = (spans[-1][0], row + 1)
        else:
            spans.append((row, row + 1))
    return spans


TICKS = (1, 2, 3, 5, 10, 15, 30, 60)  # seconds a countdown frame may stand for


@dataclass(frozen=True)
class Delta:
    """An animation frame as it differs from the first: its pixels inside ``box`` (left, top,
    right, bottom); no box, no difference."""

    box: tuple[int, int, int, int] | None = None
    image: Image.Image | None = None

    def over(self, first: Image.Image) -> Image.Image:
        """The whole frame."""
        if self.box is None:
            return first
        whole = first.copy()
        whole.paste(self.image.convert(first.mode), self.box[:2])
        return whole


def delta(image: Image.Image, first: Image.Image) -> Delta:
    """A whole frame as a Delta from the first (for frames drawn whole)."""
    box = ImageChops.difference(image.convert("RGB"), first.convert("RGB")).getbbox()
    return Delta(box, image.crop(box)) if box else Delta()


def encode_animation(
    first: Image.Image, deltas: list[Delta], durations: list[int], budget: int, countdown: bool
) -> Encoded:
    """An animated GIF at or under ``budget``, looping: ``first`` and then each of ``deltas``
    (frames 2 onwards, as they differ from the first). When it does not fit it gives up, in
    this order: frames (a ``countdown`` ticks every 2, 3, 5... seconds instead), then
    colours, then size; ``notes`` says what it gave up.

    All frames share one palette (a countdown's first frame's; a loop's, from a mosaic of its
    slides), and each frame is the first with its changed box quantized into it, so Pillow
    stores each frame as the small rectangle that changed.
    """
    budget = check_budget(budget)
    first = first.convert("RGB")
    frames = [Delta(), *deltas]
    encodes, scale = 0, 1.0
    while True:
        for colors in PALETTE_STEPS:
            for tick in TICKS if countdown and len(frames) > 1 else (1,):
                if tick > 1 and tick >= len(frames) * 2:
                    break
                data = _gif(first, frames[::tick], _merged(durations, tick), colors, countdown)
                encodes += 1
                if len(data) <= budget:
                    notes = []
                    if tick > 1:
                        notes.append(f"a frame every {tick} s instead of every second")
                    if colors < PALETTE_STEPS[0]:
                        notes.append(f"{colors} colours instead of 256")
                    if scale < 1:
                        notes.append(f"scaled to {first.width}x{first.height}")
                    return Encoded(
                        data,
                        "gif",
                        None,
                        colors,
                        first.width,
                        first.height,
                        encodes,
                        frames=len(frames[::tick]),
                        notes=tuple(notes),
                    )
        smaller = (round(first.width * SCALE_STEP), round(first.height * SCALE_STEP))
        if min(smaller) < MIN_SIDE_PX:
            raise BudgetError(f"cannot fit the animation under {budget:,} bytes; raise the budget")
        scale *= SCALE_STEP
        wholes = [f.over(first).resize(smaller, Image.Resampling.LANCZOS) for f in frames]
        first = wholes[0]
        frames = [Delta(), *(delta(whole, first) for whole in wholes[1:])]


def _gif(
    first: Image.Image, frames: list[Delta], durations: list[int], colors: int, countdown: bool
) -> bytes:
    picks = frames[:: max(1, len(frames) // 6)][:6]  # a loop's palette: a few of its slides
    slides = [first] if countdown else [frame.over(first) for frame in picks]
    palette = _shared_palette(slides, colors)
    base = first.quantize(palette=palette)
    if len(frames) == 1:
        buffer = io.BytesIO()
        base.save(buffer, "GIF")
        return buffer.getvalue()
    rectangles: list[tuple[gif.Box, Image.Image] | None] = []
    shown = base.copy()  # what the GIF shows after the frames written so far
    before = None  # the box where the frame before differed from the first
    for frame in frames[1:]:
        box = _union(before, frame.box)
        before = frame.box
        if box is None:
            rectangles.append(None)
            continue
        pixels = base.crop(box)  # the first frame, where either differs from it
        if frame.box is not None:  # quantized where the frame's colours differ from the first
            changed = frame.image.convert("RGB")
            mask = ImageChops.difference(changed, first.crop(frame.box)).convert("L")
            inside = mask.getbbox()
            if inside is not None:
                mask = mask.crop(inside).point(lambda value: 255 if value else 0)
                at = (frame.box[0] - box[0] + inside[0], frame.box[1] - box[1] + inside[1])
                pixels.paste(changed.crop(inside).quantize(palette=palette), at, mask)
        differs = ImageChops.difference(_indices(pixels), _indices(shown.crop(box))).getbbox()
        if differs is None:
            rectangles.append(None)
            continue
        left, top = box[0] + differs[0], box[1] + differs[1]
        rectangle = (left, top, box[0] + differs[2], box[1] + differs[3])
        pixels = pixels.crop(differs)
        shown.paste(pixels, rectangle[:2])
        rectangles.append((rectangle, pixels))
    return gif.write(base, rectangles, durations)


def _indices(image: Image.Image) -> Image.Image:
    """A P image's palette indices as an L image, to compare indices, not colours."""
    return Image.frombytes("L", image.size, image.tobytes())


def _union(a: gif.Box | None, b: gif.Box | None) -> gif.Box | None:
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


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
        return _JpegSearch(budget, _whole(image)).run(predictor)
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


@dataclass(frozen=True)
class _Candidate:
    """An encode whose size is known; ``write`` makes its bytes (a spliced JPEG is only
    joined once it is chosen)."""

    size: int
    write: Callable[[], bytes]


# (quality, optimized Huffman tables?) -> the encode, or None where it cannot be had
EncodeAt = Callable[[int, bool], _Candidate | None]


def _whole(image: Image.Image) -> EncodeAt:
    def encode_at(quality: int, optimize: bool) -> _Candidate:
        data = _save(
            image, "JPEG", quality=quality, subsampling=2, optimize=optimize, restart_marker_rows=1
        )
        return _Candidate(len(data), lambda: data)

    return encode_at


class _JpegSearch:
    """The highest JPEG quality that fits one image, in as few encodes as can be."""

    def __init__(self, budget: int, encode_at: EncodeAt):
        self.budget, self.encode_at = budget, encode_at
        self.sizes: dict[int, int] = {}  # quality -> size
        self.best: tuple[_Candidate, int] | None = None
        self.optimized = False  # the best is the lowest quality with optimized tables
        self.tries = 0

    def run(self, predictor: QualityPredictor | None):
        memory = predictor.recall(self.budget) if predictor else None
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
            predictor.remember(self.budget, Memory(quality, step, self.optimized))
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
