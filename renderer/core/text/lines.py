"""Lines: measuring, wrapping, fitting, the "…" cut, and glyph positions.

A shaped paragraph is measured by adding its glyph advances (font units scaled to px) and its
letter- and word-spacing, so every width here is the width the glyphs are drawn at. Shrinking
the font by a factor ``k`` scales the advances, not the spacing (given in px), so the size
that fits one line is computed directly; wrapped text searches for it.
"""

import re
from dataclasses import dataclass

from renderer.core.text.bidi import visual_order
from renderer.core.text.runs import Paragraph, Run, itemize
from renderer.core.text.segment import break_after

ELLIPSIS = "…"
# Cut text ends before any of these: a space, or a bidi or joiner mark left dangling.
_DANGLING = re.compile("[\\s\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069]+$")
SEARCH_STEPS = 14
SLACK = 1e-6  # px: a width computed to fit exactly may come out a rounding over


@dataclass
class Line:
    paragraph: Paragraph
    start: int
    end: int  # trailing spaces excluded

    @property
    def text(self) -> str:
        return self.paragraph.text[self.start : self.end]

    def width(self, k: float) -> float:
        return measure(self.paragraph, self.start, self.end, k)


@dataclass(frozen=True)
class Glyph:
    id: int
    x: float
    y: float


@dataclass
class PlacedRun:
    run: Run
    glyphs: list[Glyph]
    size: float  # px


def measure(paragraph: Paragraph, start: int, end: int, k: float) -> float:
    """Width in px of characters ``start:end`` at font scale ``k``. As browsers do, the
    letter-spacing after the last character counts."""
    advance = paragraph.advance_sums[end] - paragraph.advance_sums[start]
    return k * advance + paragraph.spacing_sums[end] - paragraph.spacing_sums[start]


def _trimmed(paragraph: Paragraph, start: int, end: int) -> tuple[int, int]:
    text = paragraph.text
    while end > start and text[end - 1] in " \u3000\t":
        end -= 1
    while start < end and text[start] in " \u3000\t":
        start += 1
    return start, end


def wrap(paragraph: Paragraph, box: float, k: float) -> list[Line]:
    """Greedy lines no wider than ``box`` at scale ``k``: breaks where segment allows, and
    inside a word only when the word alone is wider than the line."""
    bounds = paragraph.bounds
    if not bounds:
        return [Line(paragraph, 0, 0)]
    allowed = break_after(paragraph.text, bounds)
    lines: list[Line] = []
    start = bounds[0][0]
    last_break = None  # the end of the last cluster a line may break after
    for index, (_, end) in enumerate(bounds):
        line_start, line_end = _trimmed(paragraph, start, end)
        if measure(paragraph, line_start, line_end, k) > box + SLACK and line_end > line_start:
            if last_break is not None and last_break > start:
                cut = last_break
            else:  # one word wider than the line: break it between clusters
                cut = bounds[index - 1][1] if bounds[index][0] > start else end
            lines.append(Line(paragraph, *_trimmed(paragraph, start, cut)))
            start, last_break = cut, None
        if allowed[index]:
            last_break = end
    lines.append(Line(paragraph, *_trimmed(paragraph, start, bounds[-1][1])))
    return [line for line in lines if line.end > line.start] or [lines[-1]]


def scale_to_fit(paragraph: Paragraph, box: float | None, k_min: float, max_lines: int) -> float:
    """The largest font scale from 1 down to ``k_min`` at which the paragraph fits ``box`` in
    ``max_lines`` lines (``k_min`` when it fits at none: it will be cut)."""
    if box is None or _fits(paragraph, box, 1.0, max_lines):
        return 1.0
    if max_lines <= 1:  # widths scale linearly: solve for the scale
        whole = _whole(paragraph)
        advance = paragraph.advance_sums[whole.end] - paragraph.advance_sums[whole.start]
        spacing = paragraph.spacing_sums[whole.end] - paragraph.spacing_sums[whole.start]
        return max(k_min, min(1.0, (box - spacing) / advance)) if advance > 0 else k_min
    if not _fits(paragraph, box, k_min, max_lines):
        return k_min
    low, high = k_min, 1.0  # fits at low, not at high
    for _ in range(SEARCH_STEPS):
        middle = (low + high) / 2
        low, high = (middle, high) if _fits(paragraph, box, middle, max_lines) else (low, middle)
    return low


def set_at(
    paragraph: Paragraph, box: float | None, k: float, max_lines: int
) -> tuple[list[Line], bool]:
    """(lines, cut): the paragraph at scale ``k`` in at most ``max_lines`` lines of ``box``,
    the last one cut with "…" when the text does not fit."""
    whole = _whole(paragraph)
    if box is None:
        return [whole], False
    if max_lines <= 1:
        if whole.width(k) <= box + SLACK:
            return [whole], False
        return [ellipsize(whole, box, k)], True
    lines = wrap(paragraph, box, k)
    if len(lines) <= max_lines:
        return lines, False
    kept = lines[: max_lines - 1]
    rest = Line(paragraph, *_trimmed(paragraph, kept[-1].end, len(paragraph.text)))
    return [*kept, ellipsize(rest, box, k)], True


def _whole(paragraph: Paragraph) -> Line:
    return Line(paragraph, *_trimmed(paragraph, 0, len(paragraph.text)))


def _fits(paragraph: Paragraph, box: float, k: float, max_lines: int) -> bool:
    if max_lines <= 1:
        return _whole(paragraph).width(k) <= box + SLACK
    return len(wrap(paragraph, box, k)) <= max_lines


def ellipsize(line: Line, box: float, k: float) -> Line:
    """The longest start of ``line``, cut between grapheme clusters, that fits ``box`` with
    "…" after it (shaped again: the cut can change how the last letters join)."""
    paragraph = line.paragraph
    ends = [end for _, end in paragraph.bounds if line.start < end <= line.end]

    def candidate(count: int) -> Line:
        end = ends[count - 1] if count else line.start
        kept = _DANGLING.sub("", paragraph.text[line.start : end])
        spans_of = paragraph.span_of[line.start : line.start + len(kept)]
        span = spans_of[-1] if spans_of else paragraph.span_of[line.start]
        cut = itemize(kept + ELLIPSIS, paragraph.spans, [*spans_of, span], paragraph.rtl)
        return Line(cut, 0, len(cut.text))

    low, high = 0, len(ends)  # the answer is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if candidate(middle).width(k) <= box + SLACK:
            low = middle
        else:
            high = middle - 1
    return candidate(low)


def place(line: Line, x: float, baseline: float, anchor: str, k: float) -> list[PlacedRun]:
    """Every glyph of ``line`` positioned: runs in visual order (bidi rule L2), the line
    anchored at ``x`` (start, middle or end, in the paragraph's direction)."""
    paragraph = line.paragraph
    runs = [r for r in paragraph.runs if r.start < line.end and r.end > line.start]
    placed = []
    pen = left_edge(line, x, anchor, k)
    for index in visual_order([run.level for run in runs]):
        run = runs[index]
        scale = run.scale * k
        shaped = run.shaped
        spacing = _spacing_by_cluster(paragraph, run, line)
        glyphs = []
        previous = None
        for gid, cluster, advance, (dx, dy) in zip(
            shaped.glyphs, shaped.clusters, shaped.advances, shaped.offsets, strict=True
        ):
            if cluster not in spacing:
                continue
            if cluster != previous:  # spacing follows a cluster: to its left when RTL
                if run.rtl:
                    pen += spacing[cluster]
                elif previous is not None:
                    pen += spacing[previous]
            glyphs.append(Glyph(gid, pen + dx * scale, baseline - dy * scale))
            pen += advance * scale
            previous = cluster
        if not run.rtl and previous is not None:
            pen += spacing[previous]
        placed.append(PlacedRun(run, glyphs, paragraph.spans[run.span].style.size * k))
    return placed


def left_edge(line: Line, x: float, anchor: str, k: float) -> float:
    """Where ``line`` starts on the left when anchored at ``x``: ``start`` is the left end of
    left-to-right text and the right end of right-to-left text."""
    width = line.width(k)
    if anchor == "middle":
        return x - width / 2
    return x if (anchor == "start") != line.paragraph.rtl else x - width


def _spacing_by_cluster(paragraph: Paragraph, run: Run, line: Line) -> dict[int, float]:
    """The spacing after each HarfBuzz cluster of ``run`` inside ``line``, by its start."""
    starts = sorted({c for c in run.shaped.clusters if line.start <= c < line.end})
    ends = [*starts[1:], min(run.end, line.end)]
    return {s: sum(paragraph.spacing[s:e]) for s, e in zip(starts, ends, strict=True)}
