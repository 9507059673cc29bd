"""A paragraph into shaped runs: one font, one direction, one script and one style each.

Every grapheme cluster gets the first face that draws all of it: the colour emoji font for an
emoji, the face of the text's language for Han, else the style's families then the fallback
chain, as browsers choose (so a space between two Arabic words is the template font's). A
cluster no bundled face has is left out and reported, never drawn as a box. Each run is shaped by
HarfBuzz with the whole paragraph as context (so Arabic joins across a change of style), at
units-per-em: the result does not depend on the font size, and is cached.
"""

import threading
from dataclasses import dataclass, field
from itertools import accumulate

import uharfbuzz as hb
from cachetools import LRUCache

import renderer.core.text.segment as segment
from renderer.core.text.bidi import levels as bidi_levels
from renderer.core.text.fontset import SLANT, Face, fontset
from renderer.core.text.style import TextStyle

NO_LIGATURES = {"liga": False, "clig": False, "dlig": False, "hlig": False, "calt": False}
_shaped: LRUCache = LRUCache(maxsize=8192)
_faces: dict = {}  # (chain, cluster, Han language) -> the face that draws it
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a paragraph in one style; ``attrs`` go onto its glyphs (fill, stroke...)."""

    style: TextStyle
    attrs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Shaped:
    """HarfBuzz's answer, in font units, glyphs in visual order (left to right)."""

    glyphs: tuple[int, ...]
    clusters: tuple[int, ...]  # the paragraph index of each glyph's first character
    advances: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class Run:
    start: int
    end: int
    span: int
    level: int
    face: Face
    script: str
    shaped: Shaped
    scale: float  # px per font unit at the span's size (before fitting)
    slant: float  # synthetic oblique: italic asked of a face that is not

    @property
    def rtl(self) -> bool:
        return self.level % 2 == 1


@dataclass
class Paragraph:
    """Text in spans, itemized: ``runs`` in logical order, per-character advances in px."""

    text: str
    spans: list[Span]
    span_of: list[int]  # each character's span
    rtl: bool
    runs: list[Run]
    levels: list[int]
    bounds: list[tuple[int, int]]  # grapheme clusters
    advance: list[float]  # px at scale 1, on each glyph's cluster character
    spacing: list[float]  # px after each character: letter- and word-spacing
    missing: list[str]  # characters no bundled font has
    # running totals of advance and spacing (index i: the first i characters): a width in O(1)
    advance_sums: list[float] = field(default_factory=list)
    spacing_sums: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.advance_sums = [0.0, *accumulate(self.advance)]
        self.spacing_sums = [0.0, *accumulate(self.spacing)]


def itemize(text: str, spans: list[Span], span_of: list[int], rtl: bool) -> Paragraph:
    """Split ``text`` into runs and shape them."""
    fonts = fontset()
    levels = bidi_levels(text, rtl)
    bounds = segment.clusters(text)
    scripts = segment.scripts(text)
    lang = next((s.style.lang for s in spans if s.style.lang), "")
    han_lang = lang or _lang_of(scripts)
    pieces: list[tuple[int, int, Face]] = []
    missing: dict[str, None] = {}
    for start, end in bounds:
        cluster = text[start:end]
        style = spans[span_of[start]].style
        face = _face_for(cluster, scripts[start], style, han_lang)
        if face is None:
            missing.update(dict.fromkeys(fonts.uncovered(cluster) or [cluster]))
            continue
        pieces.append((start, end, face))

    runs: list[Run] = []
    codepoints = tuple(ord(char) for char in text)
    for start, end, face in pieces:
        last = runs[-1] if runs else None
        if (
            last is not None
            and last.end == start
            and last.face is face
            and last.level == levels[start]
            and last.span == span_of[start]
            and last.script == scripts[start]
        ):
            last.end = end
        else:
            style = spans[span_of[start]].style
            slant = SLANT if style.italic and not face.italic else 0.0
            runs.append(
                Run(start, end, span_of[start], levels[start], face, scripts[start], None,
                    style.size / face.upem, slant)
            )  # fmt: skip
    advance = [0.0] * len(text)
    for run in runs:
        style = spans[run.span].style
        run.shaped = shape(face=run.face, codepoints=codepoints, run=run, lang=style.lang or
                           (han_lang if run.script in segment.CJK_SCRIPTS else ""),
                           ligatures=not style.letter_spacing)  # fmt: skip
        for cluster, units in zip(run.shaped.clusters, run.shaped.advances, strict=True):
            advance[cluster] += units * run.scale
    drawn = [(start, end) for start, end, _ in pieces]
    spacing = _spacing(text, spans, span_of, drawn)
    return Paragraph(text, spans, span_of, rtl, runs, levels, bounds, advance, spacing,
                     list(missing))  # fmt: skip


def _face_for(cluster: str, script: str, style: TextStyle, han_lang: str) -> Face | None:
    fonts = fontset()
    chain = fonts.chain(style.families, style.weight, style.italic)
    key = (id(chain), cluster, han_lang if script in segment.CJK_SCRIPTS else "")  # kept chains
    face = _faces.get(key, False)
    if face is False:
        if segment.is_emoji(cluster):
            chain = (fonts.emoji[0], *chain)
        elif script in segment.CJK_SCRIPTS and not all(
            ord(c) in chain[0].coverage for c in cluster
        ):
            chain = (fonts.cjk(han_lang, style.weight, style.italic), *chain)
        face = fonts.covering(cluster, chain)
        if len(_faces) > 65536:
            _faces.clear()
        _faces[key] = face
    return face


def _lang_of(scripts: list[str]) -> str:
    """The language Han characters are most likely in, from the kana or hangul beside them."""
    if "Hira" in scripts or "Kana" in scripts:
        return "ja"
    return "ko" if "Hang" in scripts else ""


def _spacing(text: str, spans: list[Span], span_of: list[int], bounds) -> list[float]:
    """letter-spacing after each drawn grapheme cluster, word-spacing after each space."""
    spacing = [0.0] * len(text)
    for start, end in bounds:
        style = spans[span_of[start]].style
        spacing[end - 1] += style.letter_spacing
        if text[start] in " \u00a0":
            spacing[end - 1] += style.word_spacing
    return spacing


def shape(face: Face, codepoints: tuple[int, ...], run: Run, lang: str, ligatures: bool) -> Shaped:
    """HarfBuzz shapes ``run`` of ``codepoints`` with the rest as context (cached)."""
    key = (face.id, codepoints, run.start, run.end, run.rtl, run.script, lang, ligatures)
    with _lock:
        found = _shaped.get(key)
    if found is not None:
        return found
    buffer = hb.Buffer()
    buffer.add_codepoints(list(codepoints), run.start, run.end - run.start)
    buffer.direction = "rtl" if run.rtl else "ltr"
    if run.script not in ("Zyyy", "Zzzz"):
        buffer.script = run.script
    if lang:
        buffer.language = lang
    buffer.cluster_level = hb.BufferClusterLevel.MONOTONE_GRAPHEMES
    hb.shape(face.font, buffer, {} if ligatures else NO_LIGATURES)
    infos, positions = buffer.glyph_infos, buffer.glyph_positions
    shaped = Shaped(
        glyphs=tuple(info.codepoint for info in infos),
        clusters=tuple(info.cluster for info in infos),
        advances=tuple(position.x_advance for position in positions),
        offsets=tuple((position.x_offset, position.y_offset) for position in positions),
    )
    with _lock:
        _shaped[key] = shaped
    return shaped
