"""Lint: a fixture template per rule that triggers it, and the bundled ones lint clean."""

import io
import json

import pytest
from PIL import Image

from renderer.core.lint import lint_folder
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import MANIFEST, run_cli

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">\n'
NAME = '<text x="10" y="60" font-family="Inter" font-size="30">{{ first_name }}</text>\n'


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((1080, 1080), 90).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


CASES = {
    "undeclared-field": (
        HEAD + NAME + "{% if false %}<text>{{ ghost }}</text>{% endif %}</svg>",
        {},
    ),
    "undeclared-field ": (HEAD + NAME + "<text>{{ ghost }}</text></svg>", {}),
    "unused-field": (HEAD + "<text>static</text></svg>", {}),
    "external-reference": (HEAD + NAME + '<image href="https://cdn.example.com/a.png"/></svg>', {}),
    "outside-folder": (HEAD + NAME + '<image href="../secret.png"/></svg>', {}),
    "script": (HEAD + NAME + "<script>alert(1)</script></svg>", {}),
    "event-attribute": (HEAD + NAME.replace("<text ", '<text onclick="x()" ') + "</svg>", {}),
    "entity": ('<!DOCTYPE svg [<!ENTITY x "y">]>' + HEAD + NAME + "</svg>", {}),
    "missing-font": (HEAD + NAME.replace("Inter", "Comic Sans MS") + "</svg>", {}),
    "aspect-ratio": (HEAD + NAME + "</svg>", {"w": 1000, "h": 600}),
    "too-large": (HEAD + NAME + "</svg>", {"w": 3000, "h": 3000}),
    "text-cut": (
        HEAD
        + NAME.replace('font-size="30"', 'font-size="30" data-fit-width="100" data-min-size="28"')
        + "</svg>",
        {},
    ),
    "overflow": (HEAD + NAME.replace('x="10"', 'x="300"') + "</svg>", {}),
    "missing-glyph": (HEAD + NAME + "</svg>", {"extreme": "Ana 𓀀"}),  # Egyptian: not bundled
    "text-area": (
        HEAD
        + NAME
        + "".join(
            f'<text x="0" y="{80 + 90 * i}" font-family="Inter Black" font-size="90">'
            "WWWWWWWW</text>\n"
            for i in range(6)
        )
        + "</svg>",
        {"w": 1080, "h": 1080},
    ),
    "low-quality": (
        HEAD + '<image href="photo.png" width="{w}" height="{h}"/>' + NAME + "</svg>",
        {"w": 1080, "h": 1080, "budget": "520KB"},
    ),
}


def make(make_template, rule: str):
    svg, options = CASES[rule]
    width, height = options.get("w", 400), options.get("h", 400)
    manifest = MANIFEST.replace('"500KB"', f'"{options.get("budget", "500KB")}"')
    if "extreme" in options:
        manifest = manifest.replace("Bartholomew-Fitzgerald Featherstonehaugh", options["extreme"])
    files = {"photo.png": _photo()} if "photo.png" in svg else {}
    return make_template(
        svg.replace("{w}", str(width)).replace("{h}", str(height)),
        manifest=manifest,
        files=files,
        width=width,
        height=height,
    )


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_has_a_template_that_triggers_it(make_template, rule):
    findings = lint_folder(make(make_template, rule))
    rules = {f.rule for f in findings}
    assert rule.strip() in rules, [str(f) for f in findings]
    finding = next(f for f in findings if f.rule == rule.strip())
    assert finding.severity in ("error", "warning") and finding.message


def test_findings_say_where(make_template, tmp_path):
    findings = lint_folder(make(make_template, "external-reference"))
    assert findings[0].line == 3 and findings[0].element == "template.svg"


def test_overflow_says_where_on_the_image(make_template):
    overflow = next(f for f in lint_folder(make(make_template, "overflow")) if f.rule == "overflow")
    assert overflow.box and overflow.box[0] == 300


def test_bundled_templates_lint_clean():
    for folder in sorted(p for p in BUNDLED_TEMPLATES.iterdir() if (p / "manifest.toml").exists()):
        assert lint_folder(folder) == [], folder.name


def test_lint_cli_exit_codes(make_template):
    clean = run_cli("lint")
    assert clean.returncode == 0 and "flash_sale: no findings" in clean.stdout
    broken = make(make_template, "script")
    failed = run_cli("lint", str(broken), "--json")
    assert failed.returncode == 1
    report = json.loads(failed.stdout)["probe"]
    assert report["errors"] >= 1 and report["findings"][0]["rule"] in ("script", "unused-field")


def test_lint_over_http(server):
    import httpx

    report = httpx.get(f"{server.url}/v1/templates/flash_sale/lint").json()
    assert report["errors"] == 0 and report["findings"] == []
    assert httpx.get(f"{server.url}/v1/templates/nope/lint").status_code == 404
