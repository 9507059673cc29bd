"""``mms-renderer import``: a raw design-tool export in, a template folder out; bad files out
with one line and nothing written."""

import tomllib

import httpx
import pytest

from renderer.core import lint

from .conftest import AUTH, run_cli

# Figma-shaped: a frame clip-path group around everything, a drop shadow filter around a
# dynamic text, tspans with x/y, xml:space, letter-spacing="0em"
FIGMA = """<svg width="1080" height="1350" viewBox="0 0 1080 1350" fill="none"
 xmlns="http://www.w3.org/2000/svg">
<g clip-path="url(#clip0_1_2)">
<rect width="1080" height="1350" fill="#0B0B12"/>
<g filter="url(#filter0_d_1_2)">
<text fill="#FFD23F" xml:space="preserve" style="white-space: pre" font-family="Inter"
 font-size="72" font-weight="bold" letter-spacing="0em"><tspan x="80" y="300"
 >Hi {{ first_name }}!</tspan></text>
</g>
<text fill="white" font-family="Inter" font-size="48"><tspan x="80" y="420"
 >{{discount}}% off today</tspan></text>
</g>
<defs>
<filter id="filter0_d_1_2" x="76" y="236" width="600" height="90"
 filterUnits="userSpaceOnUse" color-interpolation-filters="sRGB">
<feFlood flood-opacity="0" result="BackgroundImageFix"/>
<feOffset dy="4"/>
<feGaussianBlur stdDeviation="2"/>
<feBlend mode="normal" in2="BackgroundImageFix" result="effect1_dropShadow_1_2"/>
</filter>
<clipPath id="clip0_1_2"><rect width="1080" height="1350" fill="white"/></clipPath>
</defs>
</svg>
"""


def test_import_reports_and_writes_a_folder_that_lints_clean(tmp_path):
    source = tmp_path / "Spring Sale.svg"
    source.write_text(FIGMA)
    out = tmp_path / "templates"
    done = run_cli("import", str(source), "--templates", str(out))
    assert done.returncode == 0, done.stderr
    report = done.stdout
    assert "size 1080x1350" in report
    assert "merge fields: first_name, discount (2 text elements)" in report
    assert "fonts: Inter" in report
    assert "filter (feBlend, feFlood, feGaussianBlur, feOffset)" in report
    assert "the frame group 'url(#clip0_1_2)' clips to the whole canvas" in report
    folder = out / "spring_sale"
    assert (folder / "template.svg").read_text() == FIGMA  # the export, untouched
    manifest = tomllib.loads((folder / "manifest.toml").read_text())
    assert manifest["name"] == "spring_sale"
    assert (manifest["width"], manifest["height"]) == (1080, 1350)
    assert list(manifest["fields"]) == ["first_name", "discount"]
    assert "TODO" in (folder / "manifest.toml").read_text()
    findings = lint.lint_folder(folder)  # the skeleton loads and renders as it is
    assert not [f for f in findings if f.severity == "error"], findings


def test_an_existing_folder_is_refused_unless_forced(tmp_path):
    source = tmp_path / "offer.svg"
    source.write_text(FIGMA)
    (tmp_path / "offer").mkdir()
    (tmp_path / "offer" / "notes.txt").write_text("mine")
    done = run_cli("import", str(source), "--templates", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("exists; choose another --name or say --force")
    assert not (tmp_path / "offer" / "manifest.toml").exists()
    forced = run_cli("import", str(source), "--templates", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "offer" / "manifest.toml").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not an SVG file"),
        (b"<html><body>hi</body></html>", "not an SVG file: the root element is html"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "boom">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">&x;</svg>',
            "DOCTYPE and entities are not allowed",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
            b' width="10" height="10"><image xlink:href="https://example.com/a.png"/></svg>',
            "refers to 'https://example.com/a.png' outside the file",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<rect fill="url(file:///etc/passwd)"/></svg>',
            "refers to 'file:///etc/passwd' outside the file",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b"<style>@import url(fonts.css);</style></svg>",
            "outside the file",
        ),
    ],
)
def test_bad_exports_exit_2_with_one_line_and_write_nothing(tmp_path, content, message):
    source = tmp_path / "bad.svg"
    source.write_bytes(content)
    out = tmp_path / "templates"
    done = run_cli("import", str(source), "--templates", str(out))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not out.exists()


def test_post_a_raw_export_to_the_api(start_server, tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    headers = {**AUTH, "Content-Type": "image/svg+xml"}
    url = f"{server.url}/v1/templates"
    created = httpx.post(url, params={"name": "spring"}, content=FIGMA, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["template"] == "spring" and body["lint"]["errors"] == 0
    assert "merge fields: first_name, discount (2 text elements)" in body["lint"]["found"]
    shown = httpx.get(f"{url}/spring").json()
    assert set(shown["fields"]) == {"first_name", "discount"}

    again = httpx.post(url, params={"name": "spring"}, content=FIGMA, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "template_exists"
    forced = httpx.post(
        url, params={"name": "spring", "force": "1"}, content=FIGMA, headers=headers
    )
    assert forced.status_code == 201, forced.text

    bad = httpx.post(
        url,
        params={"name": "bad"},
        content=b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>',
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "import_refused"
    assert "Traceback" not in bad.text
    unnamed = httpx.post(url, content=FIGMA, headers=headers)
    assert unnamed.status_code == 400 and "?name=" in unnamed.json()["error"]["message"]
    listed = [t["name"] for t in httpx.get(url).json()["templates"]]
    assert listed == ["spring"] and list(folder.iterdir()) == [], "stored, not in the folder"
