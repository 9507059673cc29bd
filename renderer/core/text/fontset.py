"""The bundled fonts: faces by family, weight and style, what each covers, the fallback chain.

Everything comes from the font files in ``fonts/`` (``fonts/fonts.toml`` says which, and where
from): family names, weights and styles are read from the files themselves, so a template names
a family as a design tool does: ``Inter``, ``Inter Black`` (Figma, Canva), ``Inter Bold``
(a full name), ``'Inter-Bold'`` (the PostScript name Illustrator writes), ``Noto Sans
Arabic``; case, spaces and hyphens do not count. A family is
matched as CSS matches ``font-family`` with ``font-weight`` and ``font-style``; a character its
faces lack is drawn from the first family of the fallback chain whose face covers it.
"""

import difflib
import os
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import uharfbuzz as hb

from renderer.core.errors import RendererError

FONTS_DIR = Path(__file__).resolve().parents[3] / "fonts"
GENERIC = {"sans-serif": "Inter", "system-ui": "Inter", "serif": "Noto Sans", "cursive": "Inter",
           "fantasy": "Inter", "monospace": "Noto Sans", "emoji": "Noto Color Emoji"}  # fmt: skip
# Han characters take the face of the text's language (BCP 47 prefix), else Simplified Chinese
CJK = {"ja": "Noto Sans CJK JP", "ko": "Noto Sans CJK KR", "zh-hant": "Noto Sans CJK TC",
       "zh-tw": "Noto Sans CJK TC", "zh-hk": "Noto Sans CJK HK", "zh-mo": "Noto Sans CJK HK",
       "zh": "Noto Sans CJK SC"}  # fmt: skip
# Characters no font needs to have: joiners, variation selectors, bidi controls and the like
# (HarfBuzz hides them). Whitespace and controls are not "missing" either.
IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U000e0000-\U000e0fff\\s]"
)
SLANT = 0.25  # synthetic oblique for a family without italics: tan(14°), as browsers do


class FontsMissing(RendererError):
    """The font files are not there: the set-up (``make``) has not fetched them."""


def key(family: str) -> str:
    """A family name as matched: case, spaces and hyphens do not count."""
    return re.sub(r"[\s_-]+", "", family).casefold()


@dataclass(eq=False)
class Face:
    """One face of one font file; its HarfBuzz objects and coverage are made on first use."""

    id: str  # its name in the drawn SVG: the file's stem, and "#index" inside a collection
    path: Path
    index: int
    blob: hb.Blob = field(repr=False)
    family: str = ""
    names: tuple[str, ...] = ()  # every name that selects it: typographic and legacy family,
    # full name and PostScript name (the last two select this face alone)
    weight: int = 400
    italic: bool = False

    @cached_property
    def hb_face(self) -> hb.Face:
        return hb.Face(self.blob, self.index)

    @cached_property
    def font(self) -> hb.Font:
        """A HarfBuzz font at units-per-em scale: positions come out in font units."""
        return hb.Font(self.hb_face)

    @cached_property
    def upem(self) -> int:
        return self.hb_face.upem

    @cached_property
    def coverage(self) -> frozenset[int]:
        return frozenset(self.hb_face.unicodes)

    @cached_property
    def color(self) -> bool:
        """Colour bitmaps (the emoji font): drawn as images, not outlines."""
        return bool(self.hb_face.has_color_png)

    @cached_property
    def metrics(self) -> dict[str, float]:
        """Ascender, descender (negative), x-height and cap height, in ems."""
        extents = self.font.get_font_extents("ltr")
        ascender, descender = extents.ascender / self.upem, extents.descender / self.upem
        found = {}
        for name, tag, default in (
            ("x_height", hb.OTMetricsTag.X_HEIGHT, 0.5 * ascender),
            ("cap_height", hb.OTMetricsTag.CAP_HEIGHT, 0.7 * ascender),
        ):
            value = self.font.get_metric_position(tag)
            found[name] = value / self.upem if value else default
        return {"ascender": ascender, "descender": descender, **found}


class Fontset:
    """The bundled faces, by family; matching, coverage and the fallback chain."""

    def __init__(self, folder: Path = FONTS_DIR):
        config = tomllib.loads((folder / "fonts.toml").read_text())
        names = [name for spec in config["packages"].values() for name in spec["files"]]
        absent = [name for name in names if not (folder / name).is_file()]
        if absent:
            raise FontsMissing(
                f"{len(absent)} bundled font files are missing from {folder} (first: "
                f"{absent[0]}): run `make serve` or `make test`, or python3 fonts/fetch.py"
            )
        self.faces: list[Face] = []
        for name in sorted(names):
            self.faces += _faces(folder / name)
        self.by_id = {face.id: face for face in self.faces}
        self.families: dict[str, list[Face]] = {}
        for face in self.faces:
            for name in face.names:
                self.families.setdefault(key(name), []).append(face)
        self.fallback = [self.families[key(name)] for name in config["fallback"]]
        self.emoji = self.families[key(config["emoji"])]
        self._chains: dict[tuple, tuple[Face, ...]] = {}

    def has_family(self, family: str) -> bool:
        return key(family) in self.families or family.strip().lower() in GENERIC

    def family_names(self) -> list[str]:
        """Every family a template can name (typographic names; legacy ones work too)."""
        return sorted({face.family for face in self.faces})

    def nearest(self, family: str) -> str | None:
        """The bundled name closest to a family that is not bundled (a typo, a weight the
        family lacks), for lint's message."""
        names = {name for face in self.faces for name in face.names}
        found = difflib.get_close_matches(key(family), {key(n) for n in names}, 1, 0.75)
        if not found:
            return None
        spellings = [name for name in names if key(name) == found[0]]  # as it was written
        return max(spellings, key=lambda n: difflib.SequenceMatcher(None, family, n).ratio())

    def match(self, family: str, weight: int, italic: bool) -> Face | None:
        """The face of ``family`` CSS font matching picks for ``weight`` and ``italic``."""
        family = GENERIC.get(family.strip().lower(), family)
        faces = self.families.get(key(family))
        return _closest(faces, weight, italic) if faces else None

    def chain(self, families: tuple[str, ...], weight: int, italic: bool) -> tuple[Face, ...]:
        """The faces to try, in order: the named families, then the fallback chain."""
        cache_key = (families, weight, italic)
        chain = self._chains.get(cache_key)
        if chain is None:
            faces = [self.match(name, weight, italic) for name in families]
            faces += [_closest(group, weight, italic) for group in self.fallback]
            chain = tuple(dict.fromkeys(face for face in faces if face is not None))
            self._chains[cache_key] = chain
        return chain

    def cjk(self, lang: str, weight: int, italic: bool) -> Face:
        lang = lang.lower()
        family = next((CJK[p] for p in CJK if lang == p or lang.startswith(p + "-")), CJK["zh"])
        return self.match(family, weight, italic)

    def covering(self, cluster: str, chain: tuple[Face, ...]) -> Face | None:
        """The first face of ``chain``, else of any bundled face, that draws ``cluster``."""
        needed = _needed(cluster)
        if not needed:
            return chain[0]
        for face in chain:
            if all(cp in face.coverage for cp in needed):
                return face
        for forms in (unicodedata.normalize("NFC", cluster), unicodedata.normalize("NFD", cluster)):
            needed = _needed(forms)
            for face in (*chain, *self.faces):
                if all(cp in face.coverage for cp in needed):
                    return face
        return None

    @cached_property
    def union(self) -> hb.Set:
        """Every character some bundled face has (a HarfBuzz set: compact, built in C)."""
        union = hb.Set()
        for face in self.faces:
            union.update(face.hb_face.unicodes)
        return union

    def uncovered(self, text: str) -> list[str]:
        """The characters of ``text`` that no bundled font has (in order, once each)."""
        union = self.union
        found: dict[str, None] = {}
        for char in text:
            if ord(char) not in union and not IGNORABLE.match(char) and _visible(char):
                found[char] = None
        return list(found)


def _visible(char: str) -> bool:
    return unicodedata.category(char) not in ("Cc", "Zs", "Zl", "Zp")


def _needed(cluster: str) -> list[int]:
    return [ord(char) for char in cluster if not IGNORABLE.match(char)]


def _faces(path: Path) -> list[Face]:
    blob = hb.Blob.from_file_path(str(path))
    faces = []
    for index in range(hb.Face(blob).count if path.suffix == ".ttc" else 1):
        face = hb.Face(blob, index)
        font = hb.Font(face)
        typographic = face.get_name(hb.OTNameIdPredefined.TYPOGRAPHIC_FAMILY)
        legacy = face.get_name(hb.OTNameIdPredefined.FONT_FAMILY)
        full = face.get_name(hb.OTNameIdPredefined.FULL_NAME)
        postscript = face.get_name(hb.OTNameIdPredefined.POSTSCRIPT_NAME)
        family = typographic or legacy
        faces.append(
            Face(
                id=path.stem + (f"#{index}" if path.suffix == ".ttc" else ""),
                path=path,
                index=index,
                blob=blob,
                family=family,
                names=tuple(dict.fromkeys(n for n in (family, legacy, full, postscript) if n)),
                weight=round(font.get_style_value(hb.StyleTag.WEIGHT)),
                italic=font.get_style_value(hb.StyleTag.ITALIC) > 0,
            )
        )
    return faces


def _closest(faces: list[Face], weight: int, italic: bool) -> Face:
    """CSS Fonts 4 font matching: style first (italic, else upright), then weight: from 400 to
    500 the desired weight then up to 500, then down; lighter looks down first; heavier up."""
    styled = [f for f in faces if f.italic == italic] or faces

    def distance(face: Face) -> tuple[int, int]:
        w = face.weight
        if 400 <= weight <= 500:
            if weight <= w <= 500:
                return (0, w - weight)
            return (1, weight - w) if w < weight else (2, w - weight)
        if weight < 400:
            return (0, weight - w) if w <= weight else (1, w - weight)
        return (0, w - weight) if w >= weight else (1, weight - w)

    return min(styled, key=distance)


_fontset: Fontset | None = None
_loading = threading.Lock()


def fontset() -> Fontset:
    """The process's fonts, loaded on first use. Anything cairo would still look up through
    fontconfig (an SVG inside an image) is pointed at the same folder, never the system's."""
    global _fontset
    if _fontset is None:
        with _loading:
            if _fontset is None:
                os.environ["FONTCONFIG_FILE"] = str(FONTS_DIR / "fonts.conf")
                _fontset = Fontset()
    return _fontset
