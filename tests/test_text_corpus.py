"""Real names in every script the bundled fonts cover, and emoji sequences, rendered through
the public path: the CLI (its PNG and its --svg) and the HTTP service. Checked without the
engine: fontTools says which font has each character and that no glyph is .notdef; pixels say
where colour is."""

import io
import xml.etree.ElementTree as ET

import httpx
import pytest
from PIL import Image

from renderer import sign_url

from .conftest import AUTH, SIGNING_KEYS, Server, run_cli
from .text_oracle import by_id, colourful, glyph_runs, ink, nominal, notdef_free, uncovered

CORPUS = {
    "latin": "José Álvarez-Núñez",
    "polish": "Łukasz Żółkiewski",
    "vietnamese": "Nguyễn Thị Hương",
    "greek": "Νίκος Παπαδόπουλος",
    "cyrillic": "Ольга Петрова",
    "armenian": "Արամ Խաչատրյան",
    "georgian": "ნინო ბერიძე",
    "hebrew": "נועה כהן",
    "arabic": "محمد عبد الله",
    "persian": "پریسا رضایی",
    "urdu": "عائشہ صدیقی",
    "devanagari": "प्रिया शर्मा",
    "bengali": "সৌমিত্র চট্টোপাধ্যায়",
    "tamil": "முருகன் சுப்பிரமணியம்",
    "telugu": "వెంకటేశ్వర రావు",
    "thai": "สมชาย ใจดี",
    "lao": "ສົມພອນ ແກ້ວມະນີ",
    "khmer": "សុខ ចាន់ធី",
    "ethiopic": "አበበ ቢቂላ",
    "chinese": "王小明",
    "traditional": "陳志豪",
    "japanese": "佐藤 美咲",
    "korean": "김민준",
    "mixed": "Hi محمد & 美咲!",
    "emoji": "Ana 😀",
    "family": "👨‍👩‍👧‍👦 Family 👩🏽‍💻",
    "skin": "Thumbs 👍🏽👋🏿",
    "flags": "🇺🇸🇲🇽🇯🇵 🏳️‍🌈",
}
ROW = 46
WIDTH, HEIGHT = 1080, 1350


def corpus_template(folder, name="corpus", reject=False):
    """A template with one line per corpus entry, black Inter on white."""
    texts = "".join(
        f'<text id="{key}" x="20" y="{38 + ROW * i}" font-family="Inter" font-size="34" '
        f'data-fit-width="1040">{{{{ {key} }}}}</text>\n'
        for i, key in enumerate(CORPUS)
    )
    folder.mkdir(parents=True)
    (folder / "template.svg").write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">\n'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n{texts}</svg>\n'
    )
    fields = "".join(
        f'[fields.{key}]\ntype = "text"\nmax_length = 80\ndefault = "{value}"\n'
        + ('missing_glyphs = "reject"\n' if reject else "")
        for key, value in CORPUS.items()
    )
    (folder / "manifest.toml").write_text(
        f'name = "{name}"\ndescription = "names in every script"\nwidth = {WIDTH}\n'
        f'height = {HEIGHT}\nformat = "png"\nbudget = "600KB"\n\n{fields}'
    )
    return folder


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-corpus")
    corpus_template(folder / "corpus")
    corpus_template(folder / "strict", "strict", reject=True)
    return folder


@pytest.fixture(scope="module")
def corpus_server(templates, tmp_path_factory):
    running = Server(
        tmp_path_factory.mktemp("corpus-server") / "server.log",
        {"RENDERER_TEMPLATES": str(templates)},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cli_render(templates, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus-cli")
    done = run_cli(
        "render", "corpus", "--templates", str(templates), "--format", "png",
        "--out", str(out / "corpus.png"), "--svg", str(out / "corpus.svg"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return (out / "corpus.svg").read_text(), Image.open(out / "corpus.png").convert("RGB")


@pytest.mark.parametrize("key", CORPUS)
def test_every_name_is_drawn_from_fonts_that_have_it(cli_render, key):
    svg, image = cli_render
    runs = glyph_runs(by_id(svg)[key])
    assert runs, "drawn"
    assert notdef_free(runs), "no .notdef glyph"
    assert uncovered(CORPUS[key], runs) == [], "every character from a font whose cmap has it"
    row = image.crop((0, ROW * list(CORPUS).index(key), WIDTH, ROW * (list(CORPUS).index(key) + 1)))
    assert ink(row) is not None or colourful(row) > 0, "pixels in its row"


def test_right_to_left_runs_are_placed_right_to_left(cli_render):
    svg, _ = cli_render
    for key, word in (("hebrew", "נוע"), ("arabic", "عبد")):
        for face, _, glyphs in glyph_runs(by_id(svg)[key]):
            if "Hebrew" in face or "Arabic" in face:
                x_of = {gid: x for gid, x, _ in glyphs}
                if key == "hebrew" and nominal(face, word[0]) in x_of:
                    first, middle, last = (x_of[nominal(face, c)] for c in word)
                    assert first > middle > last, key
    (face, _, glyphs) = next(r for r in glyph_runs(by_id(svg)["mixed"]) if "Arabic" in r[0])
    latin = [r for r in glyph_runs(by_id(svg)["mixed"]) if r[0].startswith("Inter")]
    assert latin[0][2][0][1] < min(x for _, x, _ in glyphs), "the Arabic name after 'Hi'"


def test_arabic_persian_and_urdu_letters_join(cli_render):
    svg, _ = cli_render
    for key in ("arabic", "persian", "urdu"):
        for face, _, glyphs in glyph_runs(by_id(svg)[key]):
            if "Arabic" not in face:
                continue
            drawn = {gid for gid, _, _ in glyphs}
            isolated = {nominal(face, c) for c in CORPUS[key] if c != " "}
            assert len(drawn - isolated) >= 3, f"{key}: joined forms, not isolated ones"


def test_emoji_are_drawn_in_colour_over_http(corpus_server, cli_render):
    answer = httpx.post(f"{corpus_server.url}/v1/templates/corpus/preview", headers=AUTH, json={})
    assert answer.status_code == 200, answer.text
    image = Image.open(io.BytesIO(answer.content)).convert("RGB")
    keys = list(CORPUS)
    for key in ("emoji", "family", "skin", "flags"):
        row = image.crop((0, ROW * keys.index(key), WIDTH, ROW * (keys.index(key) + 1)))
        assert colourful(row) > 150, f"{key}: colour pixels"
    family = [r for r in glyph_runs(by_id(cli_render[0])["family"]) if "Emoji" in r[0]]
    assert [len(glyphs) for _, _, glyphs in family] == [1, 1], "each ZWJ sequence one glyph"
    for key in ("latin", "arabic", "japanese"):
        row = image.crop((0, ROW * keys.index(key), WIDTH, ROW * (keys.index(key) + 1)))
        assert colourful(row) == 0 and ink(row), f"{key}: black text"


def test_a_bundled_template_draws_names_in_any_script_over_http(server):
    images = {}
    for name in ("Ana", "محمد", "美咲 😀"):
        url = sign_url(
            server.url, "flash_sale", "png", {"first_name": name},
            kid="k2", secret=SIGNING_KEYS.split(",")[0].split(":", 1)[1], at=1795000000,
        )  # fmt: skip
        answer = httpx.get(url, timeout=60)
        assert answer.status_code == 200, answer.text
        images[name] = (
            Image.open(io.BytesIO(answer.content)).convert("RGB").crop((70, 530, 1010, 620))
        )
    assert colourful(images["美咲 😀"]) > colourful(images["Ana"]) + 100, "the emoji in colour"
    assert images["Ana"].tobytes() != images["محمد"].tobytes()


def test_a_character_no_font_has_is_left_out_counted_and_logged(corpus_server):
    before = corpus_server.metric("mms_text_missing_glyphs_total", template="corpus", field="latin")
    answer = httpx.post(
        f"{corpus_server.url}/v1/templates/corpus/preview",
        headers=AUTH,
        json={"fields": {"latin": "Ana 𓀀 Lee"}},
    )
    assert answer.status_code == 200
    assert "latin: no bundled font has U+13000" in answer.headers["X-Render-Notes"]
    after = corpus_server.metric("mms_text_missing_glyphs_total", template="corpus", field="latin")
    assert after == before + 1
    assert "template corpus field latin: no bundled font has U+13000" in corpus_server.log()


def test_a_field_set_to_reject_answers_400_naming_it(corpus_server):
    answer = httpx.post(
        f"{corpus_server.url}/v1/templates/strict/preview",
        headers=AUTH,
        json={"fields": {"greek": "Νίκος 𓀀"}},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["fields"][0]["field"] == "greek" and "U+13000" in error["fields"][0]["message"]
    assert httpx.post(
        f"{corpus_server.url}/v1/templates/strict/preview", headers=AUTH, json={}
    ).is_success


def test_lint_and_the_cli_report_the_missing_character(templates, tmp_path):
    done = run_cli(
        "render", "corpus", "--templates", str(templates), "--set", "korean=김 𓀀",
        "--out", str(tmp_path / "k.png"),
    )  # fmt: skip
    assert done.returncode == 0 and "korean: no bundled font has U+13000" in done.stdout
    ET.fromstring((templates / "corpus" / "template.svg").read_text())  # still a clean template


def test_the_cli_svg_is_plain_svg_that_draws_the_same(cli_render):
    """--svg writes paths and images, not the renderer's glyph elements: any viewer draws it,
    and CairoSVG drawing those paths puts every line where the renderer did."""
    from renderer.core.raster import Fetcher, rasterize

    svg, image = cli_render
    assert "urn:mms-renderer:text" not in svg
    plain = rasterize(svg.encode(), Fetcher({}), WIDTH, HEIGHT).convert("RGB")
    for index, key in enumerate(CORPUS):
        row = (0, ROW * index, WIDTH, ROW * (index + 1))
        theirs, ours = ink(plain.crop(row)), ink(image.crop(row))
        if ours:
            assert max(abs(a - b) for a, b in zip(theirs, ours, strict=True)) <= 2, key
    assert colourful(plain.crop((0, ROW * 24, WIDTH, ROW * 25))) > 150, "emoji as images"
