"""The text engine in process: kerning, weights, styles, fitting, wrapping, the "…" cut, white
space, tspan runs and bidi, each checked against fontTools or pixels rather than the engine."""

import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageChops

from renderer.core import text
from renderer.core.errors import FieldErrors
from renderer.core.raster import Fetcher, rasterize
from renderer.core.text import bidi
from renderer.core.text.style import TextStyle

from .text_oracle import by_id, font, glyph_runs, ink, nominal, notdef_free, uncovered

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
WHITE = '<rect width="{w}" height="{h}" fill="#fff"/>'


def setting(body: str, w: int = 800, h: int = 200) -> tuple[str, list[text.Fitted]]:
    root = ET.fromstring(HEAD.format(w=w, h=h) + body + "</svg>")
    done = text.typeset(root)
    return ET.tostring(root, encoding="unicode"), done


def pixels(body: str, w: int = 800, h: int = 200) -> Image.Image:
    svg, _ = setting(WHITE.format(w=w, h=h) + body, w, h)
    return rasterize(svg.encode(), Fetcher({}), w, h).convert("RGB")


def test_kerning_av_is_narrower_than_its_advances():
    svg, _ = setting('<text id="t" x="10" y="100" font-family="Inter" font-size="100">AV</text>')
    ((face, size, glyphs),) = glyph_runs(by_id(svg)["t"])
    inter = font(face)
    scale = size / inter["head"].unitsPerEm
    a_advance = inter["hmtx"][inter.getBestCmap()[ord("A")]][0] * scale
    v_advance = inter["hmtx"][inter.getBestCmap()[ord("V")]][0] * scale
    (_, a_x, _), (_, v_x, _) = glyphs
    assert v_x - a_x < a_advance - 2, "V moved under A's arm: the font's kerning applied"
    width = text.width("AV", TextStyle(("Inter",), 100))
    assert width < a_advance + v_advance - 4


@pytest.mark.parametrize("weight", [100, 200, 300, 400, 500, 600, 700, 800, 900])
def test_every_inter_weight_draws_its_own_face(weight):
    svg, _ = setting(
        f'<text id="t" x="10" y="100" font-family="Inter" font-weight="{weight}" '
        f'font-size="60">Weight</text>'
    )
    faces = {face for face, _, _ in glyph_runs(by_id(svg)["t"])}
    assert [font(f)["OS/2"].usWeightClass for f in faces] == [weight]


def test_weight_names_design_tool_families_and_italics():
    svg, _ = setting(
        '<text id="a" font-family="Inter SemiBold" y="50">Semi</text>'
        '<text id="b" font-family="Inter" font-weight="bold" font-style="italic" y="90">It</text>'
        '<text id="c" style="font-family: \'Inter Black\'; font-weight: normal" y="130">B</text>'
        '<text id="d" font-family="Noto Sans Arabic" font-weight="300" y="170">سلام</text>'
    )
    ids = by_id(svg)
    weight = {k: font(glyph_runs(ids[k])[0][0])["OS/2"] for k in "abcd"}
    assert weight["a"].usWeightClass == 600
    assert weight["b"].usWeightClass == 700 and weight["b"].fsSelection & 1, "a real italic"
    assert weight["c"].usWeightClass == 900
    assert weight["d"].usWeightClass == 400, "no light Arabic: the nearest lighter-first is 400"


def test_heavier_weights_put_down_more_ink():
    darkness = []
    for weight in (300, 400, 600, 800):
        image = pixels(
            f'<text x="10" y="120" font-family="Inter" font-weight="{weight}" '
            f'font-size="90">Heavy</text>'
        ).convert("L")
        darkness.append(sum(255 - v for v in image.get_flattened_data()))
    assert darkness == sorted(darkness) and len(set(darkness)) == 4


def test_italic_without_an_italic_face_is_slanted():
    upright = pixels(
        '<text x="20" y="120" font-family="Noto Sans Hebrew" font-size="90">שלום</text>'
    )
    slanted = pixels(
        '<text x="20" y="120" font-family="Noto Sans Hebrew" font-size="90" '
        'font-style="italic">שלום</text>'
    )
    assert ImageChops.difference(upright, slanted).getbbox() is not None
    assert ink(slanted)[2] > ink(upright)[2], "the tops lean right"


def test_fit_measures_the_shaped_run_and_stays_in_its_box():
    for name in (
        "محمد بن عبد الله الهاشمي القرشي",
        "Nguyễn Thị Phương Thảo Hoàng",
        "王小明 佐藤美咲",
    ):
        body = (
            f'<text id="t" x="100" y="120" font-family="Inter" font-size="80" '
            f'data-fit-width="300" data-min-size="20">{name}</text>'
        )
        _, (fitted,) = setting(body)
        left, _, right, _ = ink(pixels(body))
        assert fitted.width <= 300 and left >= 98 and right <= 402, (name, fitted)


def test_the_cut_keeps_grapheme_clusters_and_drops_dangling_marks():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    name = f"Zoë{family}{family}{family}{family}\u200f e\u0301e\u0301e\u0301 Quartermaine"
    _, (fitted,) = setting(
        f'<text x="10" y="100" font-family="Inter" font-size="40" data-fit-width="200" '
        f'data-min-size="40">{name}</text>'
    )
    assert fitted.ellipsized and fitted.text.endswith("…")
    kept = fitted.text[:-1]
    assert name.startswith(kept), "a prefix of the name"
    assert kept.count("\U0001f468") == kept.count("\U0001f466"), "no family cut in half"
    assert not kept.endswith(("\u200f", "\u200d", " ")), "no dangling mark or space"


def test_max_lines_wraps_then_shrinks_then_cuts():
    body = (
        '<text id="t" x="400" y="60" text-anchor="middle" font-family="Inter" font-size="40" '
        'data-fit-width="500" data-max-lines="2" data-min-size="20">{}</text>'
    )
    _, (two,) = setting(body.format("Bartholomew Fitzgerald Featherstonehaugh"))
    assert two.lines == 2 and two.size == 40 and not two.ellipsized
    _, (smaller,) = setting(body.format("Bartholomew Fitzgerald Featherstonehaugh Smythe-Jones"))
    assert smaller.lines == 2 and 20 <= smaller.size < 40 and not smaller.ellipsized
    long = " ".join(["Featherstonehaugh"] * 12)
    _, (cut,) = setting(body.format(long))
    assert cut.lines == 2 and cut.size == 20 and cut.ellipsized and cut.width <= 500
    left, top, right, bottom = ink(pixels(body.format(long)))
    assert left >= 148 and right <= 652 and bottom - top > 40, "two lines inside the box"


def test_right_to_left_wraps_and_anchors_at_its_start():
    body = (
        '<text x="780" y="60" direction="rtl" font-family="Inter" font-size="36" '
        'data-fit-width="400" data-max-lines="2">مرحبا يا صديقي العزيز كيف حالك اليوم</text>'
    )
    _, (fitted,) = setting(body)
    left, _, right, _ = ink(pixels(body))
    assert fitted.lines == 2 and 776 <= right <= 782 and left >= 378


def test_xml_space_preserve_keeps_spaces_and_default_collapses_them():
    _, (collapsed, kept) = setting(
        '<text y="50" font-family="Inter">A    \n   B</text>'
        '<text y="90" font-family="Inter" xml:space="preserve">A    B</text>'
    )
    assert collapsed.text == "A B" and kept.text == "A    B"
    assert kept.width > collapsed.width + 10


def test_tspans_keep_their_own_paint_and_style():
    image = pixels(
        '<text x="10" y="120" font-family="Inter" font-size="80" fill="#000000">Hi '
        '<tspan fill="#ff0000" font-weight="900">Ana</tspan> <tspan style="fill:#0000ff">'
        "שלום</tspan></text>"
    )
    colours = {pixel for pixel in image.get_flattened_data() if pixel != (255, 255, 255)}
    assert (255, 0, 0) in colours and (0, 0, 255) in colours and (0, 0, 0) in colours


def test_positioned_tspans_are_chunks_anchored_on_their_own():
    svg, done = setting(
        '<text id="t" x="400" y="50" text-anchor="middle" font-family="Inter" font-size="30">'
        '<tspan x="400" dy="0">Short</tspan><tspan x="400" dy="40">A much longer line</tspan>'
        "</text>"
    )
    (_, _, short), (_, _, long) = glyph_runs(by_id(svg)["t"])
    assert short[0][2] == 50 and long[0][2] == 90
    assert long[0][1] < short[0][1], "each line centred on x, so the longer starts further left"
    assert done[0].lines == 2


def test_bidi_levels_follow_the_unicode_algorithm():
    assert bidi.levels("abc", rtl=False) == [0, 0, 0]
    assert bidi.levels("Hi \u05e9\u05dc\u05d5\u05dd!", rtl=False) == [0, 0, 0, 1, 1, 1, 1, 0]
    assert bidi.levels("\u05d0 (12)", rtl=True) == [1, 1, 1, 2, 2, 1]
    assert bidi.visual_order([0, 1, 1, 0]) == [0, 2, 1, 3]


def test_hebrew_inside_english_reads_right_to_left():
    svg, _ = setting(
        '<text id="t" x="10" y="100" font-family="Inter" font-size="50">Hi כהן ok</text>'
    )
    runs = glyph_runs(by_id(svg)["t"])
    hebrew = next(r for r in runs if "Hebrew" in r[0])
    x_of = {gid: x for gid, x, _ in hebrew[2]}
    kaf, he, nun = (nominal(hebrew[0], c) for c in "כהן")
    assert x_of[kaf] > x_of[he] > x_of[nun], "first letter rightmost"
    latin = [r for r in runs if r[0].startswith("Inter")]
    assert latin[0][2][0][1] < min(x_of.values()) < max(x_of.values()) < latin[-1][2][0][1]


def test_arabic_letters_join():
    svg, _ = setting('<text id="t" x="10" y="100" font-family="Inter" font-size="50">محمد</text>')
    ((face, _, glyphs),) = glyph_runs(by_id(svg)["t"])
    drawn = [gid for gid, _, _ in glyphs]
    isolated = [nominal(face, c) for c in "محمد"]
    assert len(set(drawn) - set(isolated)) >= 3, "initial, medial and final forms, not isolated"
    assert notdef_free(glyph_runs(by_id(svg)["t"]))


def test_a_character_no_font_has_is_left_out_and_reported():
    svg, (done,) = setting('<text id="t" x="10" y="100" font-family="Inter">Ana 𓀀 Li</text>')
    runs = glyph_runs(by_id(svg)["t"])
    assert notdef_free(runs) and uncovered("Ana Li", runs) == []
    assert done.missing == ("𓀀",)
    assert text.fontset().uncovered("Ana 𓀀\u200d ") == ["𓀀"]


def test_a_field_may_reject_what_no_font_draws(make_template):
    from renderer.core.catalog import load_template
    from renderer.core.render import plan

    from .conftest import MANIFEST

    manifest = MANIFEST + 'missing_glyphs = "reject"\n'
    template = load_template(
        make_template(HEAD.format(w=400, h=400) + "<text>{{ first_name }}</text></svg>",
                      manifest=manifest)
    )  # fmt: skip
    plan(template, {"first_name": "美咲 😀"})
    with pytest.raises(FieldErrors) as raised:
        plan(template, {"first_name": "Ana 𓀀"})
    assert raised.value.problems[0].field == "first_name"
    assert "U+13000" in raised.value.problems[0].message


def test_a_style_the_engine_cannot_read_names_the_element(make_template):
    from renderer.core.catalog import load_template
    from renderer.core.errors import TemplateError

    svg = (
        HEAD.format(w=400, h=400) + '<text id="x" font-weight="heavy">{{ first_name }}</text></svg>'
    )
    with pytest.raises(TemplateError, match=r"x.*font-weight"):
        load_template(make_template(svg))


def test_an_absurd_size_draws_nothing_and_breaks_nothing_after_it():
    """FreeType refuses a glyph of 65,536 px, and cairo then fails that font for good: the
    engine skips such glyphs, so the next render with the same font still draws."""
    before = pixels('<text x="10" y="100" font-family="Inter" font-size="60">Ana</text>')
    pixels('<text x="10" y="100" font-family="Inter" font-size="1000000">Ana</text>')
    pixels('<g transform="scale(5000)"><text font-family="Inter" font-size="40">A</text></g>')
    after = pixels('<text x="10" y="100" font-family="Inter" font-size="60">Ana</text>')
    assert ink(before) and after.tobytes() == before.tobytes()


def test_a_position_the_engine_cannot_read_names_the_element():
    from renderer.core.errors import TemplateError

    with pytest.raises(TemplateError, match="greeting"):
        setting('<text id="greeting" x="left">Ana</text>')


def test_the_fonts_are_the_pinned_files():
    import subprocess
    import sys

    from .conftest import ROOT

    done = subprocess.run(
        [sys.executable, "fonts/fetch.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


SCRIPTS = {  # a letter of each script the bundle must cover, and emoji
    "Latin": "Ł", "Vietnamese": "ễ", "Greek": "Ω", "Cyrillic": "Ж", "Armenian": "Ա",
    "Georgian": "ა", "Hebrew": "א", "Arabic": "ع", "Persian": "پ", "Urdu": "ے",
    "Devanagari": "क", "Bengali": "ক", "Tamil": "த", "Telugu": "వ", "Thai": "ก", "Lao": "ກ",
    "Khmer": "ក", "Ethiopic": "አ", "Simplified": "们", "Traditional": "們", "Japanese": "さ",
    "Korean": "한", "Emoji": "😀",
}  # fmt: skip


def test_the_bundle_covers_every_script():
    from fontTools.ttLib import TTFont

    from .text_oracle import FONTS

    cmaps = [TTFont(p, fontNumber=0, lazy=True).getBestCmap() for p in FONTS.glob("*.[ot]t[fc]")]
    missing = [name for name, char in SCRIPTS.items() if not any(ord(char) in c for c in cmaps)]
    assert missing == []
