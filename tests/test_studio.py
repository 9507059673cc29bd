"""The studio page in a real browser: Debian's Chromium, driven by Playwright."""

import hashlib
import json
import shutil

import httpx
import pytest
from playwright.sync_api import sync_playwright

from .conftest import API_KEY, AUTH, ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        opened = browser.new_page(viewport={"width": 1400, "height": 900})
        opened.blocked = []  # what the studio's Content-Security-Policy refused
        opened.on(
            "console",
            lambda message: (
                opened.blocked.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        yield opened
        browser.close()
        assert opened.blocked == [], "the studio works under its own CSP"


def test_studio_gallery_preview_lint_and_signed_url(server, page):
    page.goto(f"{server.url}/studio/")
    page.wait_for_selector(".card[data-template=refer_friend] img")
    assert page.locator(".card").count() == 7
    page.screenshot(path=str(ARTIFACTS / "studio-gallery.png"))

    page.fill("#api-key", API_KEY)
    page.click(".card[data-template=flash_sale]")
    page.wait_for_selector("#preview[data-sha256]")
    first = page.get_attribute("#preview", "data-sha256")
    page.wait_for_selector("#findings li")
    assert page.inner_text("#findings") == "No findings."

    page.fill("input[name=first_name]", "Zoë Quartermaine")
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Quartermaine')"
    )
    shown = page.get_attribute("#preview", "data-sha256")
    assert shown != first, "the preview changed"
    values = json.loads(page.get_attribute("#preview", "data-values"))
    direct = httpx.post(
        f"{server.url}/v1/templates/flash_sale/preview",
        headers=AUTH,
        json={"fields": values, "format": "jpg"},
    )
    assert hashlib.sha256(direct.content).hexdigest() == shown, "it shows the new render"
    stats = page.inner_text("#stats")
    assert "KB of 500 KB" in stats and "quality" in stats
    assert page.get_attribute("#phone-ios", "src").startswith("blob:")

    page.click("#extreme")
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Featherstonehaugh')"
    )
    page.click("#copy-url")
    page.wait_for_function("() => document.querySelector('#signed-url').value.startsWith('http')")
    url = page.input_value("#signed-url")
    assert url.startswith(f"{server.url}/i/flash_sale.jpg?")
    assert httpx.get(url).status_code == 200
    page.screenshot(path=str(ARTIFACTS / "studio-editor.png"))


def test_studio_outlines_lint_findings_and_uploads(start_server, page, tmp_path):
    from .test_upload import template_files, zipped

    folder = tmp_path / "templates"
    folder.mkdir()
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    files = template_files("wide")
    files["template.svg"] = files["template.svg"].replace(
        "</svg>",
        '<text x="300" y="300" font-size="60">{{ first_name }} is far too wide</text></svg>',
    )  # overflow is an error: refused, and the page says so
    bad = tmp_path / "bad.zip"
    bad.write_bytes(zipped(files))
    good = tmp_path / "good.zip"
    good.write_bytes(zipped(template_files("fine")))

    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.wait_for_selector("#upload-file")
    page.set_input_files("#upload-file", str(bad))
    page.click("#upload button")
    page.wait_for_selector("#upload-result li.error")
    assert "overflow" in page.inner_text("#upload-result")
    page.set_input_files("#upload-file", str(good))
    page.click("#upload button")
    page.wait_for_selector(".card[data-template=fine]")
    assert httpx.get(f"{server.url}/v1/templates/fine").status_code == 200

    heavy = template_files("heavy")
    heavy["template.svg"] = heavy["template.svg"].replace(
        "</svg>",
        "".join(
            f'<text x="10" y="{120 + 62 * i}" font-family="Inter Black" font-size="60">WWWW</text>'
            for i in range(5)
        )
        + "</svg>",
    )  # text over 20% of the image: a warning, with boxes
    heavy_zip = tmp_path / "heavy.zip"
    heavy_zip.write_bytes(zipped(heavy))
    page.set_input_files("#upload-file", str(heavy_zip))
    page.click("#upload button")
    page.wait_for_selector(".card[data-template=heavy]")
    page.goto(f"{server.url}/studio/#/t/heavy")
    page.wait_for_selector("#preview[data-sha256]")
    page.wait_for_selector("#boxes .box")
    assert "text-area" in page.inner_text("#findings")
    assert page.locator("#boxes .box").count() >= 5
    page.screenshot(path=str(ARTIFACTS / "studio-lint.png"))
