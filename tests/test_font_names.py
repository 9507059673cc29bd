"""Every name a design tool may write for a bundled font selects the right face: family names
with the face's weight and style, full names and PostScript names alone. The names, weights
and styles are read here with fontTools, independently of the renderer (which reads them with
HarfBuzz)."""

import pytest
from fontTools.ttLib import TTCollection, TTFont

from renderer.core import lint, text
from renderer.core.text.fontset import key

FACES = text.fontset().faces


def opened(face) -> TTFont:
    if face.path.suffix == ".ttc":
        return TTCollection(str(face.path), lazy=True).fonts[face.index]
    return TTFont(str(face.path), lazy=True)


@pytest.mark.parametrize("face", FACES, ids=[f.id for f in FACES])
def test_each_name_of_each_face_selects_it(face):
    font = opened(face)
    names = font["name"]
    weight = font["OS/2"].usWeightClass
    italic = bool(font["OS/2"].fsSelection & 1)
    fonts = text.fontset()
    families = {key(f.family) for f in FACES}
    for name_id in (4, 6):  # full name, PostScript name: this face whatever the weight asked
        name = names.getDebugName(name_id)
        if key(name) in families:  # a full name that is a family
            assert fonts.match(name, weight, italic) is face, name  # (Noto Sans CJK JP)
            continue
        for asked in (400, 700):
            assert fonts.match(name, asked, False) is face, (name, asked)
    for name_id in (1, 16):  # legacy and typographic family, with the face's weight and style
        name = names.getDebugName(name_id)
        if name:
            assert fonts.match(name, weight, italic) is face, (name, weight, italic)
    # the way Illustrator writes it: quoted, in a <style> rule
    assert fonts.match(f"{names.getDebugName(6)}".replace(" ", ""), 400, False) is face


def test_an_unknown_family_is_a_lint_error_with_element_line_and_nearest_name(make_template):
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
<style>
  .st1 { font-family: 'Inter-SemiBlod'; font-size: 40px }
</style>
<text id="greeting" x="20" y="200" class="st1">Hi {{ first_name }}</text>
<text id="ok" x="20" y="300" font-family="Inter-SemiBold" font-size="20">{{ first_name }}</text>
</svg>"""
    findings = lint.lint_folder(make_template(svg))
    missing = [f for f in findings if f.rule == "missing-font"]
    assert len(missing) == 1, findings
    assert missing[0].severity == "error" and missing[0].element == "greeting"
    assert missing[0].line == 3
    assert "'Inter-SemiBlod' is not bundled" in missing[0].message
    assert "did you mean 'Inter-SemiBold'?" in missing[0].message
    assert str(missing[0]).endswith("(greeting, line 3)")
