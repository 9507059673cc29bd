"""Versions in the studio, in Debian's Chromium: an upload over a template shows the old and
the new sample and what changed, and asks; the versions list previews, rolls back and
deletes; a template is deleted (and undone) from the page."""

import hashlib

import httpx

from .conftest import API_KEY, AUTH
from .test_studio import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    browser,  # noqa: F401  (the Chromium fixture)
    finish,
    no_overflow,
    open_page,
)
from .test_upload import template_files, zipped
from .test_versions import BLUE, RED, WHITE, colour_of, near, upload


def choose(page, tmp_path, colour: str) -> None:
    """Pick a zip of promo in ``colour`` in the gallery's upload form, and send it."""
    path = tmp_path / f"promo-{colour[1:]}.zip"
    path.write_bytes(zipped(template_files("promo", colour=colour)))
    page.set_input_files("#upload-file", str(path))
    page.click("#upload button[type=submit]")


def versions(server) -> dict:
    return httpx.get(f"{server.url}/v1/templates/promo/versions", headers=AUTH).json()


def test_replace_asks_with_a_visual_diff_then_roll_back_delete_and_undo(
    start_server,
    browser,  # noqa: F811
    request,
    tmp_path,
):
    folder = tmp_path / "templates"
    folder.mkdir()
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    white = upload(server, WHITE).json()["version"]
    on_a_desktop(server, open_page(browser, DESKTOP, request), tmp_path, white)
    on_a_phone(server, open_page(browser, PHONE, request), tmp_path)


def on_a_desktop(server, page, tmp_path, white: str) -> None:
    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.wait_for_selector(".card[data-template=promo] img")

    choose(page, tmp_path, RED)
    page.wait_for_selector("#confirm[open] #diff-canvas[data-changed]")
    assert "Replace promo?" in page.inner_text("#confirm-title")
    assert float(page.get_attribute("#diff-canvas", "data-changed")) > 90, "white to red"
    assert "of the pixels change" in page.inner_text("#diff-summary")
    assert axe_violations(page) == {}, "the dialog"
    page.screenshot(path=str(ARTIFACTS / "studio-replace-diff-desktop.png"))
    page.click("#confirm button[value=cancel]")
    page.wait_for_selector("#upload-result li:has-text('Not uploaded')")
    assert versions(server)["current"] == white, "cancel stores nothing"

    choose(page, tmp_path, RED)
    page.wait_for_selector("#confirm[open] #diff-canvas[data-changed]")
    page.click("#confirm-ok")
    page.wait_for_selector("#notice:not([hidden])")
    red = versions(server)["current"]
    assert red != white
    assert page.inner_text("#notice").startswith(f"Stored promo, version {red[:8]}")
    finish(page, "studio-upload-stored.png")

    page.click("#notice a")  # open it: the versions, newest first
    page.wait_for_selector(f"#versions li[data-version='{white}'] button")
    assert page.locator("#versions li").count() == 2
    assert axe_violations(page) == {}, "the editor with its versions"
    assert "served" in page.inner_text(f"#versions li[data-version='{red}']")
    page.wait_for_selector("#preview[data-sha256]")
    page.click(f"#versions li[data-version='{white}'] button:text('Preview')")
    page.wait_for_selector("#version-banner:not([hidden])")
    direct = httpx.post(
        f"{server.url}/v1/templates/promo/preview",
        headers=AUTH,
        json={"fields": {"first_name": "Ana"}, "format": "jpg", "version": white},
    )
    assert near(colour_of(direct.content), WHITE)
    digest = hashlib.sha256(direct.content).hexdigest()
    page.wait_for_selector(f"#preview[data-sha256='{digest}']")
    assert page.is_disabled("#copy-url"), "URLs are signed for the version served"
    finish(page, "studio-version-preview.png")

    red_url = httpx.post(
        f"{server.url}/v1/urls",
        headers=AUTH,
        json={"template": "promo", "recipients": [{"first_name": "Ana"}]},
    ).json()["urls"][0]
    page.click(f"#versions li[data-version='{white}'] button:text('Roll back')")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-ok")
    page.wait_for_selector("#versions-message:has-text('Rolled back')")
    assert versions(server)["current"] == white
    assert "served" in page.inner_text(f"#versions li[data-version='{white}']")

    page.click(f"#versions li[data-version='{red}'] button:text('Delete')")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-ok")
    page.wait_for_function("() => document.querySelectorAll('#versions li').length === 1")
    assert httpx.get(red_url).status_code == 410, "its URLs say it was retired"

    page.click("#delete-template")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-ok")
    page.wait_for_selector("#notice:not([hidden])")
    assert page.inner_text("#notice").startswith("Deleted promo.")
    assert httpx.get(f"{server.url}/v1/templates/promo").status_code == 404
    page.click("#notice button:text('Undo')")
    page.wait_for_selector(".card[data-template=promo]")
    assert "promo is back" in page.inner_text("#notice")
    assert versions(server)["current"] == white
    finish(page, "studio-delete-undo.png")


def on_a_phone(server, page, tmp_path) -> None:
    """The same dialog and list on a phone: one column, nothing off the screen."""
    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.wait_for_selector(".card[data-template=promo] img")
    choose(page, tmp_path, BLUE)
    page.wait_for_selector("#confirm[open] #diff-canvas[data-changed]")
    assert no_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "studio-replace-diff-phone.png"))
    page.click("#confirm-ok")
    page.wait_for_selector("#notice:not([hidden])")
    page.goto(f"{server.url}/studio/#/t/promo")
    page.wait_for_selector("#versions li:nth-child(2) button")
    assert page.locator("#versions li").count() == 2
    assert axe_violations(page) == {}, "the editor with its versions"
    assert no_overflow(page)
    page.locator("#versions").scroll_into_view_if_needed()
    finish(page, "studio-versions-phone.png")
