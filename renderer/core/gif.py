"""Animated GIFs written from a first frame and the rectangles that change after it.

Pillow's multi-frame writer takes whole frames and compares each with the one before to
find what changed: for a countdown, 60 full-frame comparisons to learn what the renderer
already knows (the box of the ticking clock). Here each later frame is given as its
rectangle, LZW-coded by Pillow's single-frame writer (its C encoder), and the file is put
together around those pieces: one global palette, "do not dispose", a delay per frame.
"""

import io
import struct

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom


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
