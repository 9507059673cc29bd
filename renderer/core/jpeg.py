"""Baseline JPEG in pieces: encode rows once, encode only the rows that change, splice.

A personalized image differs from its template only in a band of rows. Encoded with a
restart marker after every MCU row (16 px at 4:2:0), each row's entropy-coded segment stands
alone: the DC predictors start again after each marker, and with the standard Huffman tables
(no ``optimize``) the coding depends on nothing but the row's pixels and the quality. So the
segments of the rows no merge value touches are the same bytes in every image, and an image
is the cached segments of the static rows, the freshly encoded segments of its band, and the
header, joined with restart markers numbered again in order. The result is byte for byte the
file a whole encode with the same restart interval writes (tests prove it), and its size is
known before it is joined, so a byte budget is checked exactly.
"""

from dataclasses import dataclass
from io import BytesIO

from PIL import Image

MCU_ROWS = 16  # pixels per MCU row at 4:2:0
SOS, EOI = 0xDA, b"\xff\xd9"
RESTARTS = [bytes((0xFF, 0xD0 + n)) for n in range(8)]


@dataclass(frozen=True)
class Pieces:
    """One encode, cut at its restart markers: the header (SOI to the end of SOS) and the
    entropy-coded segment of each MCU row."""

    header: bytes
    segments: tuple[bytes, ...]


def encode(image: Image.Image, quality: int) -> bytes:
    """A baseline 4:2:0 JPEG with a restart marker after every MCU row."""
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=2, restart_marker_rows=1)
    return buffer.getvalue()


def cut(data: bytes) -> Pieces:
    """The pieces of a JPEG written by ``encode``."""
    position = 2  # after SOI
    while True:
        if data[position] != 0xFF:
            raise ValueError("not a JPEG written by jpeg.encode")
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        position += 2 + length
        if marker == SOS:
            break
    header, body = data[:position], data[position:]
    if not body.endswith(EOI):
        raise ValueError("the JPEG does not end with EOI")
    body = body[:-2]
    segments, start, search = [], 0, 0
    while True:
        # a 0xFF inside entropy-coded data is always followed by 0x00 (stuffing): a marker
        # is 0xFF followed by anything else, and only restart markers appear in the scan
        found = body.find(b"\xff", search)
        while found != -1 and not 0xD0 <= body[found + 1] <= 0xD7:
            found = body.find(b"\xff", found + 2)
        if found == -1:
            segments.append(body[start:])
            return Pieces(header, tuple(segments))
        segments.append(body[start:found])
        start = search = found + 2


def joined_size(header: bytes, segments: list[bytes] | tuple[bytes, ...]) -> int:
    """The size ``splice`` will write, without writing it."""
    return len(header) + sum(map(len, segments)) + 2 * (len(segments) - 1) + len(EOI)


def splice(header: bytes, segments: list[bytes] | tuple[bytes, ...]) -> bytes:
    """One JPEG from a header and every row's segment, restart markers numbered in order."""
    parts = [header]
    for index, segment in enumerate(segments):
        if index:
            parts.append(RESTARTS[(index - 1) % 8])
        parts.append(segment)
    parts.append(EOI)
    return b"".join(parts)
