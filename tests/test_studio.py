"""The studio page in a real browser: Debian's Chromium, driven by Playwright."""

import contextlib
import hashlib
import json
import shutil

import httpx
import pytest
from playwright.sync_api import sync_playwright

from .conftest import API_KEY, AUTH, ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def launch():
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
        yield browser
        browser.close()


@pytest.fixture
def browser():
    with launch() as browser:
        yield browser


def watched(page):
    """The page, recording its console errors: `finish` asserts there were none."""
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


def open_page(browser, viewport, request):
    """A watched page; whatever happens, the page as the test left it is kept (a failing test
    keeps its screenshot)."""
    page = watched(browser.new_page(viewport=viewport))
    request.addfinalizer(lambda: keep_last(page, request))
    return page


def keep_last(page, request):
    page.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"), full_page=True)


def finish(page, screenshot, expected_status=()):
    """Keep a screenshot; assert no console errors but the refusals the flow provoked on purpose
    (Chromium logs every 4xx response as one)."""
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    expected = tuple(f"status of {status} " for status in expected_status)
    problems = [p for p in page.problems if not (expected and any(e in p for e in expected))]
    assert problems == [], "no console errors"


@pytest.fixture
def page(request):
    """A desktop page in a browser of its own (other test modules import this fixture alone)."""
    with launch() as browser:
        page = watched(browser.new_page(viewport=DESKTOP))
        yield page
        keep_last(page, request)


def no_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_studio_gallery_preview_lint_and_signed_url(server, page):
    page.goto(f"{server.url}/studio/")
    page.wait_for_selector(".card[data-template=refer_friend] img")
    assert page.locator(".card").count() == 7
    page.screenshot(path=str(ARTIFACTS / "studio-gallery.png"))
    assert page.evaluate("fetch('favicon.svg').then(r => r.status)") == 200

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

    page.fill("input[name=first_name]", "Zoë 𓀀")  # a character no bundled font has
    page.wait_for_selector("#stats .notes")
    assert "first_name: no bundled font has U+13000" in page.inner_text("#stats .notes")

    page.click("#extreme")
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Featherstonehaugh')"
    )
    page.click("#copy-url")
    page.wait_for_function("() => document.querySelector('#signed-url').value.startsWith('http')")
    url = page.input_value("#signed-url")
    assert url.startswith(f"{server.url}/i/flash_sale.jpg?")
    assert httpx.get(url).status_code == 200
    finish(page, "studio-editor.png")


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
    assert httpx.get(f"{server.url}/v1/templates/fine").status_code == 200, "stored"
    assert page.inner_text("#notice").startswith("Stored fine, version "), "and it says so"

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
    lines = page.locator("#findings li").all_inner_texts()
    assert len(lines) == len(set(lines)), "each finding once"
    assert sum("text-area" in line for line in lines) == 1
    outlines_follow_the_values_shown(server, page, tmp_path)
    page.goto(f"{server.url}/studio/#/t/heavy")
    page.wait_for_function("() => document.querySelectorAll('#boxes .box').length >= 5")
    wide = page.wait_for_function(  # the outlines are redrawn when the render lands: poll
        "() => document.querySelector('#boxes .box')?.offsetWidth || null"
    ).json_value()
    page.set_viewport_size({"width": 390, "height": 844})  # the outlines follow the image
    page.wait_for_function(f"() => document.querySelector('#boxes .box').offsetWidth < {wide} - 1")
    image = page.locator("#preview").bounding_box()
    box = page.locator("#boxes .box").first.bounding_box()
    assert image["x"] <= box["x"] and box["x"] + box["width"] <= image["x"] + image["width"] + 1
    finish(page, "studio-lint.png", expected_status=[422])


def outlines_follow_the_values_shown(server, page, tmp_path):
    """A name cut with "…" at the extreme values is outlined where it is drawn for the name
    in the form, and the outline moves with it."""
    from .test_upload import post, template_files, zipped

    files = template_files("cut")
    files["template.svg"] = files["template.svg"].replace(
        'data-fit-width="360" data-min-size="8"',
        'id="greeting" data-fit-width="300" data-min-size="40"',
    )
    assert post(server, zipped(files)).status_code == 201
    page.goto(f"{server.url}/studio/#/t/cut")
    outline = "#boxes .box[data-element=greeting]"
    for name in ("Ana", "Annabelle"):
        page.fill("input[name=first_name]", name)
        page.wait_for_function(
            "n => (document.querySelector('#preview').dataset.values || '').includes(n)", arg=name
        )
        page.wait_for_selector(outline)
        answer = httpx.post(
            f"{server.url}/v1/templates/cut/preview",
            headers=AUTH,
            json={"fields": {"first_name": name}, "format": "jpg"},
        )
        [[element, x, _, width, _]] = json.loads(answer.headers["x-render-boxes"])
        image = page.locator("#preview").bounding_box()
        drawn = page.locator(outline).bounding_box()
        scale = image["width"] / 400
        assert element == "greeting" and page.locator("#boxes .box").count() == 1
        assert abs(drawn["x"] - image["x"] - x * scale) <= 2, f"{name}: where it is drawn"
        assert abs(drawn["width"] - width * scale) <= 2, f"{name}: as wide as it is drawn"
    assert "text-cut" in page.inner_text("#findings")
    page.screenshot(path=str(ARTIFACTS / "studio-outline-values.png"))


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_studio_layout_on_a_phone_and_a_desktop(server, browser, viewport, request):
    page = open_page(browser, viewport, request)
    page.goto(f"{server.url}/studio/")
    page.wait_for_selector(".card[data-template=low_stock] img")
    assert no_overflow(page)
    page.fill("#api-key", API_KEY)
    page.click(".card[data-template=low_stock]")
    page.wait_for_selector("#preview[data-sha256]")
    page.wait_for_function("() => document.querySelector('#preview').complete")
    page.wait_for_selector("#findings li")
    assert no_overflow(page), "nothing spills off to the right"
    preview = page.locator("#preview").bounding_box()
    fields = page.locator("#fields").bounding_box()
    width = viewport["width"]
    if viewport is PHONE:
        assert preview["width"] >= 0.9 * width, "the preview is full width"
        assert preview["y"] + preview["height"] <= fields["y"], "the preview comes first"
        for narrow in (360, 430):
            page.set_viewport_size({"width": narrow, "height": 844})
            page.wait_for_timeout(50)
            assert no_overflow(page), f"no horizontal overflow at {narrow} px"
            assert page.locator("#preview").bounding_box()["width"] >= 0.9 * narrow
        page.set_viewport_size(viewport)
    else:
        assert preview["x"] > fields["x"] + fields["width"], "three columns: the form left"
        assert preview["width"] >= 400, "the preview is the main column"
        assert page.locator("#findings").bounding_box()["x"] > preview["x"] + preview["width"] / 2
    finish(page, f"studio-layout-{'phone' if viewport is PHONE else 'desktop'}.png")


def test_studio_form_states_key_prompt_enter_and_pickers(server, page):
    page.goto(f"{server.url}/studio/#/t/countdown_gif")
    page.wait_for_selector("#key-prompt:not([hidden])")
    assert not page.locator("#preview").is_visible(), "no broken image without a key"
    assert page.get_attribute("input[name=ends_at]", "type") == "datetime-local"
    assert page.input_value("input[name=ends_at]").startswith("2026-11-27T21:00")
    assert page.get_attribute("input[name=tz]", "list") == "timezones"
    assert page.locator("#timezones option[value='Europe/Paris']").count() == 1
    assert "the zone of the tz field" in page.inner_text("#field-ends_at-hint")

    page.goto(f"{server.url}/studio/#/t/product_loop")
    page.wait_for_selector("#key-prompt:not([hidden])")
    page.fill("#api-key", API_KEY)
    page.wait_for_selector("#preview[data-sha256]")
    assert page.is_hidden("#key-prompt")
    page.fill("input[name=first_name]", "Maria")
    page.press("input[name=first_name]", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Maria')"
    )
    assert "?" not in page.url and page.input_value("input[name=first_name]") == "Maria"
    assert "rendered in" in page.inner_text("#stats")
    page.press("input[name=first_name]", "Enter")  # the same values again: a cache hit
    page.wait_for_function("() => document.querySelector('#stats').innerText.includes('cached (')")
    assert "rendered in" not in page.inner_text("#stats")
    page.reload()  # the key is kept for this tab
    page.wait_for_selector("#preview[data-sha256]")
    assert page.input_value("#api-key") == API_KEY
    finish(page, "studio-form-enter.png")


def test_studio_live_fields_errors_and_last_request_wins(server, page):
    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.goto(f"{server.url}/studio/#/t/low_stock")
    page.wait_for_selector("#preview[data-sha256]")
    stock = page.locator(".field[data-field=stock]")
    assert page.input_value("input[name=stock]") == "", "a live field is not filled"
    assert "read from the stock feed" in stock.locator(".hint").inner_text()
    assert "0 to 99999.99" in page.inner_text(".field[data-field=price] .hint")
    assert page.locator(".field[data-field=product_name] .required").count() == 1
    assert page.locator(".field[data-field=price] .required").count() == 0

    page.click("#copy-url")  # as loaded: works
    page.wait_for_function("() => document.querySelector('#signed-url').value.startsWith('http')")
    assert httpx.get(page.input_value("#signed-url")).status_code == 200
    page.fill("input[name=stock]", "47")
    page.click("#copy-url")  # a live field in a URL: an error, shown as one
    page.wait_for_function("() => document.querySelector('#url-message').innerText !== ''")
    assert page.input_value("#signed-url") == ""
    assert page.inner_text("#url-message").startswith("stock ")
    assert "live" in page.inner_text(".field[data-field=stock] .field-error")
    page.fill("input[name=stock]", "")
    page.wait_for_selector(".field[data-field=stock]:not(.invalid)")
    assert page.inner_text("#url-message") == ""

    page.fill("input[name=price]", "12abc")  # letters in a number box
    page.wait_for_selector(".field[data-field=price].invalid")
    assert stock.get_attribute("class") == "field live"
    assert page.inner_text(".field[data-field=price] .field-error") != ""
    assert page.get_attribute("input[name=price]", "aria-invalid") == "true"
    opacity = page.eval_on_selector("#preview", "img => getComputedStyle(img).opacity")
    assert float(opacity) < 1, "the old image is dimmed"
    page.screenshot(path=str(ARTIFACTS / "studio-field-error.png"))
    page.fill("input[name=price]", "12.00")
    page.wait_for_function("() => !document.querySelector('.field.invalid')")
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('12.00')"
    )

    page.select_option("#format", "png")  # and, mid-render, gif: the last request wins
    page.select_option("#format", "gif")
    page.wait_for_function("() => document.querySelector('#preview').dataset.format === 'gif'")
    page.wait_for_function(
        "() => !document.querySelector('#stage-column').classList.contains('busy')"
    )
    assert page.input_value("#format") == "gif" and " gif " in page.inner_text("#stats")
    values = json.loads(page.get_attribute("#preview", "data-values"))
    direct = httpx.post(
        f"{server.url}/v1/templates/low_stock/preview",
        headers=AUTH,
        json={"fields": values, "format": "gif"},
        timeout=60,
    )
    assert hashlib.sha256(direct.content).hexdigest() == page.get_attribute(
        "#preview", "data-sha256"
    )
    finish(page, "studio-last-request.png", expected_status=[400])


AUDIENCE = "\r\n".join(  # CRLF, a quoted comma and doubled quotes, as spreadsheets write
    [
        "first_name,discount,code",
        "Ana,40,SAVE",
        "Bartholomew-Fitzgerald Featherstonehaugh,40,WWWWWWWWWWWWWWWW",
        "Zoë,lots,SAVE",
        '"Smith, ""Jr""",10,X',
    ]
)


def test_studio_audience_preview_flags_each_row_and_opens_it(server, browser, request, tmp_path):
    page = open_page(browser, PHONE, request)
    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.goto(f"{server.url}/studio/#/t/flash_sale")
    page.wait_for_selector("#preview[data-sha256]")
    shown = json.loads(page.get_attribute("#preview", "data-values"))
    assert shown["ends_at"].endswith("Z"), "a picker keeps the value's offset"
    assert page.input_value("input[name=ends_at]") in shown["ends_at"]
    csv = tmp_path / "audience.csv"
    csv.write_text(AUDIENCE)
    page.set_input_files("#audience-file", str(csv))
    page.wait_for_function("() => document.querySelector('#audience-csv').value.includes('Smith')")
    page.click("#audience button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('.audience-cell[data-done]').length === 4", timeout=120_000
    )
    assert no_overflow(page)
    rows = [
        {"first_name": "Ana", "discount": "40", "code": "SAVE"},
        {
            "first_name": "Bartholomew-Fitzgerald Featherstonehaugh",
            "discount": "40",
            "code": "WWWWWWWWWWWWWWWW",
        },
        {"first_name": "Zoë", "discount": "lots", "code": "SAVE"},
        {"first_name": 'Smith, "Jr"', "discount": "10", "code": "X"},
    ]
    for number, values in enumerate(rows, 1):
        cell = page.locator(f".audience-cell[data-row='{number}']")
        flags = {f.get_attribute("data-flag"): f.inner_text() for f in cell.locator(".flag").all()}
        direct = httpx.post(
            f"{server.url}/v1/templates/flash_sale/preview",
            headers=AUTH,
            json={"fields": values, "format": "jpg"},
            timeout=60,
        )
        if direct.status_code == 400:
            fields = [p["field"] for p in direct.json()["error"]["fields"]]
            assert fields == ["discount"] and "discount" in flags["field-error"]
            continue
        fit = direct.headers["X-Render-Fit"]
        assert ("fitted" in flags) == ("=fitted" in fit) and ("cut" in flags) == ("=cut" in fit)
        assert flags["bytes"] == f"{int(direct.headers['X-Render-Bytes']) / 1000:.0f} KB"
        assert "over" not in flags
        if number == 1:
            assert fit == "" and "fitted" not in flags
        if number == 2:
            assert "greeting=" in fit and "code=" in fit, "the long name and code were fitted"
    page.screenshot(path=str(ARTIFACTS / "studio-audience-phone.png"), full_page=True)

    page.click(".audience-cell[data-row='2']")  # opens the row in the editor
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Featherstonehaugh')"
    )
    assert page.input_value("input[name=code]") == "WWWWWWWWWWWWWWWW"
    page.click(".audience-cell[data-row='3']")  # a field error lands on the field
    page.wait_for_selector(".field[data-field=discount].invalid")
    finish(page, "studio-audience-open.png", expected_status=[400])


AXE = ROOT / "tests" / "assets" / "axe.min.js"


def axe_violations(page):
    """axe-core's WCAG 2 A/AA violations on the page as it is: rule, and the elements."""
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}))"
        ".violations.map(v => [v.id, v.nodes.map(n => n.target.join(' '))])"
    )
    return {rule: targets for rule, targets in found}


def test_studio_accessibility_labels_keyboard_and_axe(server, browser, request):
    page = open_page(browser, PHONE, request)
    page.goto(f"{server.url}/studio/")
    page.wait_for_selector(".card[data-template=low_stock] img")
    assert axe_violations(page) == {}, "the gallery"
    page.fill("#api-key", API_KEY)
    page.goto(f"{server.url}/studio/#/t/low_stock")
    page.wait_for_selector("#preview[data-sha256]")
    page.wait_for_selector("#findings li")
    page.fill("#audience-csv", "product_name,price\nEthiopia,12\nKenya,abc")
    page.click("#audience button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('.audience-cell[data-done]').length === 2"
    )
    assert axe_violations(page) == {}, "the editor and an audience grid"

    # every control is reached with Tab alone, in an order that starts at the top
    controls = page.evaluate(
        "[...document.querySelectorAll('a[href], button, input, select, textarea')]"
        ".filter(e => e.offsetParent !== null && !e.disabled).map(e => e.outerHTML.slice(0, 80))"
    )
    page.focus("body")
    reached = []
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))
    assert set(controls) <= set(reached), "every control is keyboard reachable"
    page.focus(".audience-cell[data-row='1']")
    page.keyboard.press("Enter")  # and works from the keyboard
    page.wait_for_function(
        "() => document.querySelector('#preview').dataset.values.includes('Ethiopia')"
    )
    finish(page, "studio-accessibility.png", expected_status=[400])
