"""Unicode segmentation the layout needs: grapheme clusters (UAX #29), the script of each
run of text (for HarfBuzz and the CJK face), emoji presentation, and where a line may break.

Grapheme clusters and Unicode properties come from the ``regex`` module, which follows the
current Unicode release (emoji ZWJ sequences, flags and Indic conjuncts are one cluster).
"""

import regex

_CLUSTER = regex.compile(r"\X")
# ISO 15924 tags of the scripts the bundled fonts draw; any other script is told to HarfBuzz
# as unknown and still shaped. Common and Inherited characters (spaces, digits, punctuation,
# combining marks) take the script of the text around them.
SCRIPTS = (
    "Latn Latin", "Grek Greek", "Cyrl Cyrillic", "Armn Armenian", "Geor Georgian",
    "Hebr Hebrew", "Arab Arabic", "Syrc Syriac", "Thaa Thaana", "Deva Devanagari",
    "Beng Bengali", "Guru Gurmukhi", "Gujr Gujarati", "Orya Oriya", "Taml Tamil",
    "Telu Telugu", "Knda Kannada", "Mlym Malayalam", "Sinh Sinhala", "Thai Thai", "Laoo Lao",
    "Khmr Khmer", "Mymr Myanmar", "Ethi Ethiopic", "Cher Cherokee",
    "Cans Canadian_Aboriginal", "Hani Han", "Hira Hiragana", "Kana Katakana", "Hang Hangul",
    "Bopo Bopomofo",
)  # fmt: skip
_SCRIPT = regex.compile(
    "|".join(f"(?P<{tag}>\\p{{sc={name}}}+)" for tag, name in (s.split() for s in SCRIPTS))
    + r"|(?P<Zyyy>[\p{sc=Common}\p{sc=Inherited}]+)|(?P<Zzzz>.)",
    regex.DOTALL,
)
CJK_SCRIPTS = {"Hani", "Hira", "Kana", "Bopo"}
# A cluster is drawn from the colour emoji font first when it is an emoji by default, or asked
# to be one (VS16), or a modifier, flag or keycap sequence; VS15 asks for text instead.
_EMOJI = regex.compile(
    r"\p{Emoji_Presentation}|\uFE0F|\u20E3|[\U0001F3FB-\U0001F3FF]|\p{Regional_Indicator}"
    r"|\p{Extended_Pictographic}\u200D"
)
TEXT_PRESENTATION = "\ufe0e"
SPACES = " \u00a0\u3000\t"
# Lines may break after a space, after a hyphen, and around CJK characters (except before
# closing punctuation or after opening punctuation, which stay with their neighbour).
_CLOSING = set("、。，．・：；！？）」』】〕〉》｝〗〙〛ー々〻ゝゞヽヾ,.!?)]}…")
_OPENING = set("（「『【〔〈《｛〖〘〚([{")
_CJK_CHAR = regex.compile(
    r"[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Bopomofo}\u3000-\u303f\uff00-\uffef]"
)


def clusters(text: str) -> list[tuple[int, int]]:
    """(start, end) of every extended grapheme cluster of ``text``."""
    return [match.span() for match in _CLUSTER.finditer(text)]


def scripts(text: str) -> list[str]:
    """The ISO 15924 script tag of each character; Common and Inherited ones take the script
    before them (or after them, at the start)."""
    tags: list[str] = []
    for match in _SCRIPT.finditer(text):
        tags += [match.lastgroup] * (match.end() - match.start())
    last = next((tag for tag in tags if tag not in ("Zyyy", "Zzzz")), "Zyyy")
    for index, tag in enumerate(tags):
        if tag == "Zyyy":
            tags[index] = last
        elif tag != "Zzzz":
            last = tag
    return tags


def is_emoji(cluster: str) -> bool:
    return TEXT_PRESENTATION not in cluster and bool(_EMOJI.search(cluster))


def break_after(text: str, bounds: list[tuple[int, int]]) -> list[bool]:
    """For each cluster, whether a line may break after it."""
    allowed = []
    for index, (start, end) in enumerate(bounds):
        char = text[end - 1]
        following = text[bounds[index + 1][0]] if index + 1 < len(bounds) else ""
        if char in SPACES:
            allowed.append(following not in SPACES)
        elif char in "-\u2010\u2013" and end - start == 1 and start > 0:
            allowed.append(following.isalnum())
        elif following and (_CJK_CHAR.match(char) or _CJK_CHAR.match(following)):
            allowed.append(
                following not in _CLOSING and char not in _OPENING and following not in SPACES
            )
        else:
            allowed.append(False)
    return allowed
