"""Animated GIFs at or under a byte budget, written from a first frame and the rectangles
that change after it.

Pillow's multi-frame writer takes whole frames and compares each with the one before to
find what changed: for a countdown, 60 full-frame comparisons to learn what the renderer
already knows (the box of the ticking clock). Here each later frame is given as its
rectangle, LZW-coded by Pillow's single-frame writer (its C encoder), and the file is put
together around those pieces: one global palette, "do not dispose", a delay per frame.
"""

import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageChops

from renderer.core import palette
from renderer.core.encode import PALETTE_STEPS, SCALE_STEP, Encoded, check_budget
from renderer.core.errors import BudgetError
from renderer.core.limits import MIN_SIDE_PX

Box = tuple[int, int, int, int]  # left, top, right, bottom


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
    first: Image.Image,
    deltas: list[Delta],
    durations: list[int],
    budget: int,
    countdown: bool,
    keep: tuple[tuple[int, int, int], ...] = (),
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
    keep = palette.shown(first, keep) if keep else ()
    while True:
        for colors in PALETTE_STEPS:
            for tick in TICKS if countdown and len(frames) > 1 else (1,):
                if tick > 1 and tick >= len(frames) * 2:
                    break
                data = _gif(
                    first, frames[::tick], _merged(durations, tick), colors, countdown, keep
                )
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
    first: Image.Image,
    frames: list[Delta],
    durations: list[int],
    colors: int,
    countdown: bool,
    keep: tuple,
) -> bytes:
    picks = frames[:: max(1, len(frames) // 6)][:6]  # a loop's palette: a few of its slides
    slides = [first] if countdown else [frame.over(first) for frame in picks]
    shared = _shared_palette(slides, colors, keep)
    base = first.quantize(palette=shared, dither=Image.Dither.NONE)
    if len(frames) == 1:
        buffer = io.BytesIO()
        base.save(buffer, "GIF")
        return buffer.getvalue()
    rectangles: list[tuple[Box, Image.Image] | None] = []
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
                pixels.paste(
                    changed.crop(inside).quantize(palette=shared, dither=Image.Dither.NONE),
                    at,
                    mask,
                )
        differs = ImageChops.difference(_indices(pixels), _indices(shown.crop(box))).getbbox()
        if differs is None:
            rectangles.append(None)
            continue
        left, top = box[0] + differs[0], box[1] + differs[1]
        rectangle = (left, top, box[0] + differs[2], box[1] + differs[3])
        pixels = pixels.crop(differs)
        shown.paste(pixels, rectangle[:2])
        rectangles.append((rectangle, pixels))
    return write(base, rectangles, durations)


def _indices(image: Image.Image) -> Image.Image:
    """A P image's palette indices as an L image, to compare indices, not colours."""
    return Image.frombytes("L", image.size, image.tobytes())


def _union(a: Box | None, b: Box | None) -> Box | None:
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _shared_palette(images: list[Image.Image], colors: int, keep: tuple) -> Image.Image:
    """One palette for every frame, from a mosaic of a few of them (a loop's slides differ),
    with the ``keep`` colours exact. Median cut, undithered: an animation is a flat design
    (measured: dithering doubled the countdown's bytes and lowered its SSIM), and a frame's
    changed box quantized on its own must not shimmer against the first frame."""
    if len(images) == 1:
        return palette.build(images[0], colors, keep, Image.Quantize.MEDIANCUT)
    picks = images[:: max(1, len(images) // 6)][:6]
    width, height = images[0].width // 2, images[0].height // 2
    mosaic = Image.new("RGB", (width * len(picks), height))
    for index, image in enumerate(picks):
        mosaic.paste(image.resize((width, height)), (index * width, 0))
    return palette.build(mosaic, colors, keep, Image.Quantize.MEDIANCUT)


def _merged(durations: list[int], tick: int) -> list[int]:
    return [sum(durations[i : i + tick]) for i in range(0, len(durations), tick)]


def write(
    first: Image.Image, frames: list[tuple[Box, Image.Image] | None], durations: list[int]
) -> bytes:
    """A looping GIF: ``first`` (mode P, its palette the one every frame uses), then each of
    ``frames`` drawn over the frame before it (a rectangle and its P pixels, or None for a
    frame that shows the same). ``durations`` in milliseconds, one per frame."""
    palette = first.getpalette() or []
    bits = max(1, (max(len(palette) // 3, 2) - 1).bit_length())
    table = bytes(palette[: 3 << bits]).ljust(3 << bits, b"\0")
    width, height = first.size
    parts = [
        b"GIF89a",
        struct.pack("<HHBBB", width, height, 0x80 | 0x70 | (bits - 1), 0, 0),
        table,
        b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00",  # loop forever
    ]
    delays = _delays(frames, durations)
    pieces: list[tuple[Box, Image.Image]] = [((0, 0, width, height), first)]
    pieces += [frame for frame in frames if frame is not None]
    for (box, image), delay in zip(pieces, delays, strict=True):
        left, top, right, bottom = box
        parts.append(struct.pack("<BBBBHBB", 0x21, 0xF9, 4, 0x04, delay, 0, 0))
        parts.append(struct.pack("<BHHHHB", 0x2C, left, top, right - left, bottom - top, 0))
        parts.append(_image_data(image))
    parts.append(b"\x3b")
    return b"".join(parts)


def _delays(frames: list[tuple[Box, Image.Image] | None], durations: list[int]) -> list[int]:
    """Centiseconds per written frame: a frame that shows the same as the one before adds
    its time to that one instead of being written."""
    delays = [durations[0]]
    for frame, duration in zip(frames, durations[1:], strict=True):
        if frame is None:
            delays[-1] += duration
        else:
            delays.append(duration)
    return [max(2, round(delay / 10)) for delay in delays]


def _image_data(image: Image.Image) -> bytes:
    """The LZW-coded pixels of a P image (minimum code size and sub-blocks), as Pillow
    writes them in a single-frame GIF."""
    buffer = io.BytesIO()
    image.save(buffer, "GIF", optimize=False, interlace=False)
    data = buffer.getvalue()
    position = 13
    if data[10] & 0x80:
        position += 3 << ((data[10] & 0x07) + 1)
    while data[position] == 0x21:  # extensions: label, then sub-blocks
        position = _after_blocks(data, position + 2)
    if data[position] != 0x2C:
        raise ValueError("no image in the GIF Pillow wrote")
    flags = data[position + 9]
    position += 10
    if flags & 0xC0:
        raise ValueError("Pillow wrote an interlaced image or a local colour table")
    return data[position : _after_blocks(data, position + 1)]


def _after_blocks(data: bytes, position: int) -> int:
    """The position after the sub-blocks that start at ``position`` and their terminator."""
    while data[position]:
        position += data[position] + 1
    return position + 1
