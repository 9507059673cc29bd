"""Loading templates: versions, and broken ones reported with their file and line."""

import shutil

import pytest

from renderer.core.catalog import Catalog, load_template
from renderer.core.errors import TemplateError, UnknownTemplate
from renderer.settings import BUNDLED_TEMPLATES

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">\n'


def test_version_is_a_hash_of_the_files(tmp_path):
    folder = tmp_path / "flash_sale"
    shutil.copytree(BUNDLED_TEMPLATES / "flash_sale", folder)
    before = load_template(folder).version
    assert load_template(folder).version == before
    svg = folder / "template.svg"
    svg.write_text(svg.read_text().replace("FLASH SALE", "FLASH  SALE"))
    assert load_template(folder).version != before
    (folder / "background.jpg").write_bytes((folder / "background.jpg").read_bytes() + b"\0")
    assert len({before, load_template(folder).version}) == 2


@pytest.mark.parametrize(
    ("svg", "manifest_extra", "where", "message"),
    [
        (HEAD + "<text>{{ first_name }\n</svg>", "", "template.svg:2", "unexpected '}'"),
        (
            HEAD + "\n<text>{{ last_name }}</text></svg>",
            "",
            "template.svg:3",
            "'last_name' is undefined",
        ),
        (
            HEAD + "<text>{{ first_name | mony }}</text></svg>",
            "",
            "template.svg:2",
            "No filter named 'mony'",
        ),
        (HEAD + "<text>{{ first_name }}</tex></svg>", "", "template.svg:2", "not well-formed XML"),
        (
            HEAD + "<text>{{ first_name }}</text></svg>",
            "colour = 3\n",
            "manifest.toml:1",
            "unknown key 'colour'",
        ),
        (
            HEAD + "<text>{{ first_name }}</text></svg>",
            "[broken\n",
            "manifest.toml:1",
            "not valid TOML",
        ),
    ],
)
def test_broken_template_names_file_and_line(make_template, svg, manifest_extra, where, message):
    from tests.conftest import MANIFEST

    folder = make_template(svg, manifest=manifest_extra + MANIFEST)
    with pytest.raises(TemplateError) as caught:
        load_template(folder)
    assert str(caught.value).startswith(f"probe/{where}: "), str(caught.value)
    assert message in str(caught.value)


def test_missing_files(tmp_path):
    (tmp_path / "t" / "x").mkdir(parents=True)
    (tmp_path / "t" / "x" / "template.svg").write_text(HEAD + "</svg>")
    catalog = Catalog(tmp_path / "t")
    assert str(catalog.errors[0]) == "x: manifest.toml is missing"
    with pytest.raises(UnknownTemplate, match="template 'x' is broken"):
        catalog.get("x")


def test_unknown_template(catalog):
    with pytest.raises(
        UnknownTemplate, match="no template named 'nope'; known: countdown_gif, flash_sale"
    ):
        catalog.get("nope")


def test_manifest_budget_over_the_hard_cap(make_template):
    from tests.conftest import MANIFEST

    folder = make_template(HEAD + "</svg>", manifest=MANIFEST.replace('"500KB"', '"700KB"'))
    with pytest.raises(TemplateError, match=r"manifest.toml:6: budget 700,000 bytes is over"):
        load_template(folder)
