"""The Unicode Bidirectional Algorithm (UAX #9), from GNU FriBidi.

FriBidi is the implementation Pango and GTK lay text out with (isolates and bracket pairs
included); this is a thin cffi binding to the three calls that give each character its
embedding level. Text with no right-to-left character in a left-to-right paragraph skips it.
"""

import re

import cffi

_ffi = cffi.FFI()
_ffi.cdef(
    """
    typedef uint32_t FriBidiChar;
    typedef int FriBidiStrIndex;
    typedef uint32_t FriBidiCharType;
    typedef uint32_t FriBidiParType;
    typedef signed char FriBidiLevel;
    typedef uint32_t FriBidiBracketType;
    void fribidi_get_bidi_types(const FriBidiChar *, const FriBidiStrIndex, FriBidiCharType *);
    void fribidi_get_bracket_types(const FriBidiChar *, const FriBidiStrIndex,
                                   const FriBidiCharType *, FriBidiBracketType *);
    FriBidiLevel fribidi_get_par_embedding_levels_ex(
        const FriBidiCharType *, const FriBidiBracketType *, const FriBidiStrIndex,
        FriBidiParType *, FriBidiLevel *);
    """
)
_lib = _ffi.dlopen("libfribidi.so.0")
PAR_LTR, PAR_RTL = 0x110, 0x111  # FRIBIDI_PAR_LTR, FRIBIDI_PAR_RTL (strong | letter | rtl)

# Characters that can make a left-to-right paragraph need the algorithm: right-to-left
# scripts (Hebrew to Arabic Extended, Syriac, Thaana, NKo..., RTL presentation forms and
# historic RTL scripts) and explicit embeddings, overrides and isolates.
_RTL = re.compile(
    "[\u0590-\u08ff\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufefe"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def levels(text: str, rtl: bool) -> list[int]:
    """The embedding level of each character of ``text``, a paragraph whose base direction
    is right-to-left when ``rtl`` (odd levels run right to left)."""
    if not rtl and not _RTL.search(text):
        return [0] * len(text)
    size = len(text)
    chars = _ffi.new("FriBidiChar[]", [ord(c) for c in text])
    types = _ffi.new("FriBidiCharType[]", size)
    brackets = _ffi.new("FriBidiBracketType[]", size)
    result = _ffi.new("FriBidiLevel[]", size)
    base = _ffi.new("FriBidiParType *", PAR_RTL if rtl else PAR_LTR)
    _lib.fribidi_get_bidi_types(chars, size, types)
    _lib.fribidi_get_bracket_types(chars, size, types, brackets)
    if not _lib.fribidi_get_par_embedding_levels_ex(types, brackets, size, base, result):
        return [1 if rtl else 0] * size
    return list(result)


def visual_order(run_levels: list[int]) -> list[int]:
    """Rule L2: the indexes of runs (each of one level, in logical order) in the order they
    are shown left to right: from the highest level down to the lowest odd level, reverse
    every stretch of runs at that level or higher."""
    order = list(range(len(run_levels)))
    if not run_levels:
        return order
    lowest_odd = min(level for level in run_levels) | 1
    for level in range(max(run_levels), lowest_odd - 1, -1):
        index = 0
        while index < len(order):
            if run_levels[order[index]] >= level:
                end = index
                while end < len(order) and run_levels[order[end]] >= level:
                    end += 1
                order[index:end] = reversed(order[index:end])
                index = end
            else:
                index += 1
    return order
