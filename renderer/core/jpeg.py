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

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache
from PIL import Image

from renderer.core.encode import (
    RESCALE_BELOW,
    Candidate,
    Encoded,
    JpegSearch,
    QualityPredictor,
    check_budget,
    flatten,
    jpeg_bytes,
)

MCU_ROWS = 16  # pixels per MCU row at 4:2:0
SOS, EOI = 0xDA, b"\xff\xd9"
RESTARTS = [bytes((0xFF, 0xD0 + n)) for n in range(8)]


@dataclass(frozen=True)
class Pieces:
    """One encode, cut at its restart markers: the header (SOI to the end of SOS) and the
    entropy-coded segment of each MCU row."""

    header: bytes
    segments: tuple[bytes, ...]


def cut(data: bytes) -> Pieces:
    """The pieces of a JPEG written by ``encode.jpeg_bytes``."""
    position = 2  # after SOI
    while True:
        if data[position] != 0xFF:
            raise ValueError("not a JPEG written by encode.jpeg_bytes")
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


class StaticRows:
    """A template's rows as JPEG segments, per quality: the static image's (encoded once, the
    first time a quality is tried, for a few qualities), and rows whose drawing recurs (a
    campaign's QR code), kept by what is drawn on them, within a byte bound."""

    QUALITIES = 8  # static images kept: a steady stream uses one or two qualities
    RECURRING_BYTES = 8_000_000

    def __init__(self, static: Callable[[], Image.Image]):
        self._static = static  # drawn only when first needed
        self._pieces: dict[int, Pieces] = {}
        self._recurring: LRUCache[tuple[int, int, bytes], bytes] = LRUCache(
            self.RECURRING_BYTES, getsizeof=len
        )
        self._lock = threading.Lock()

    def pieces(self, quality: int) -> Pieces:
        with self._lock:
            found = self._pieces.get(quality)
            if found is None:
                found = cut(jpeg_bytes(flatten(self._static()), quality))
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
    timings: dict[str, float] | None = None,
) -> Encoded | None:
    """A JPEG of the template's static image with ``bands`` (first pixel row, a multiple of
    ``MCU_ROWS``; the rows) drawn over it: only rows never seen are encoded, the rest
    spliced from ``rows``. ``keys`` names what is drawn on a row whose drawing recurs. None
    when the budget needs more than a plain quality (optimized tables, or a smaller image):
    the caller then encodes the whole image. The time spent splicing is added to
    ``timings["splice"]``."""
    budget = check_budget(budget)
    if predictor is not None and (predictor.scale(budget) or 1.0) < 1.0:
        return None  # a smaller image looks better at this budget: the whole path scales
    step = MCU_ROWS
    flat = [(first // step, flatten(image)) for first, image in bands]

    def encode_at(quality: int, optimize: bool) -> Candidate | None:
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
                encoded = cut(jpeg_bytes(crop, quality)).segments
                segments[first:end] = encoded
                for row, segment in zip(range(first, end), encoded, strict=True):
                    rows.keep(quality, row, keys.get(row), segment)
        return Candidate(
            joined_size(static.header, segments),
            lambda: _timed_splice(static.header, segments, timings),
        )

    found, tries = JpegSearch(budget, encode_at, (budget, size[0])).run(predictor)
    if found is None:
        return None
    data, quality, _ = found
    judged_full = predictor is not None and predictor.scale(budget) == 1.0
    if quality < RESCALE_BELOW and not (judged_full and predictor.still_holds(budget, quality)):
        return None  # a low quality: the whole path judges whether a smaller image looks better
    return Encoded(data, "jpg", quality, None, size[0], size[1], tries)


def _timed_splice(header: bytes, segments: list[bytes], timings: dict[str, float] | None) -> bytes:
    started = time.perf_counter()
    data = splice(header, segments)
    if timings is not None:
        timings["splice"] = timings.get("splice", 0) + time.perf_counter() - started
    return data


def _spans(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive rows as (first, end) spans: ``[3, 4, 5, 9]`` -> ``[(3, 6), (9, 10)]``."""
    spans: list[tuple[int, int]] = []
    for row in rows:
        if spans and spans[-1][1] == row:
            spans[-1] = (spans[-1][0], row + 1)
        else:
            spans.append((row, row + 1))
    return spans
