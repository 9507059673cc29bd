"""A test MMS from the studio (its API, and its page in Chromium): a real message through
the sandbox provider (a real process speaking Twilio's API, fetching the image as a carrier
would), refused before the provider is called when the compliance rules say no, its
delivery receipts kept and shown."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.request_validator import RequestValidator

from renderer.orchestrator import compliance
from renderer.orchestrator.campaign import DEFAULT_STATE_WINDOWS, DEFAULT_WINDOW
from renderer.settings import CampaignSettings

from .campaign_env import ACCOUNT, TOKEN, Sandbox
from .conftest import API_KEY, AUTH
from .test_studio import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    browser,  # noqa: F401  (the Chromium fixture)
    finish,
    no_overflow,
    open_page,
)

SENDER = "+15005550006"
# numbers of a dozen time zones: at any moment some are inside 08:00-21:00 and some are not
NUMBERS = [
    "+18085550123",
    "+14155550123",
    "+12125550123",
    "+5511912345678",
    "+442079460000",
    "+74951234567",
    "+919812345678",
    "+6621234567",
    "+81312345678",
    "+61291234567",
    "+6493012345",
]


def open_now(phone: str, at: datetime) -> bool:
    window = compliance.window_of(DEFAULT_WINDOW, DEFAULT_STATE_WINDOWS, phone)
    return compliance.next_opening(window, compliance.zones(phone, None), at) is None


def pick(is_open: bool) -> str:
    """A number whose window is open (or shut) now and still in ten minutes."""
    now = datetime.now(UTC)
    later = now + timedelta(minutes=10)
    return next(n for n in NUMBERS if open_now(n, now) == is_open == open_now(n, later))


@pytest.fixture
def sending(start_server, tmp_path):
    sandbox = Sandbox(tmp_path / "sandbox.log")
    server = start_server(
        {
            "RENDERER_TWILIO_ACCOUNT_SID": ACCOUNT,
            "RENDERER_TWILIO_AUTH_TOKEN": TOKEN,
            "RENDERER_TWILIO_BASE_URL": sandbox.url,
            "RENDERER_TEST_FROM": SENDER,
        }
    )
    yield server, sandbox
    sandbox.stop()


def signed_image(server) -> str:
    body = {"template": "flash_sale", "recipients": [{"first_name": "Ana"}]}
    return httpx.post(f"{server.url}/v1/urls", json=body, headers=AUTH).json()["urls"][0]


def send(server, **body) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/test-sends", json=body, headers=AUTH, timeout=60)


def test_compliance_and_bad_input_refuse_before_the_provider_is_called(sending):
    server, sandbox = sending
    image = signed_image(server)
    shut = send(server, to=pick(False), media_url=image, consent=True)
    assert shut.status_code == 409 and shut.json()["error"]["code"] == "quiet_hours", shut.text
    assert "quiet hours: it is " in shut.json()["error"]["message"]

    phone = pick(True)
    stop = {"From": phone, "To": SENDER, "Body": "STOP", "MessageSid": "SMstop1"}
    url = f"{server.url}/v1/webhooks/inbound"
    signature = RequestValidator(TOKEN).compute_signature(url, stop)
    assert httpx.post(url, data=stop, headers={"X-Twilio-Signature": signature}).is_success
    stopped = send(server, to=phone, media_url=image, consent=True)
    assert stopped.status_code == 409 and stopped.json()["error"]["code"] == "suppressed"

    for body, status, code in [
        ({"to": phone, "media_url": image}, 400, "consent_required"),
        ({"to": "12", "media_url": image, "consent": True}, 400, "bad_request"),
        ({"to": phone, "media_url": "https://evil.example/x.jpg", "consent": True}, 400, None),
        ({"to": phone, "media_url": image, "consent": True, "colour": 1}, 400, None),
        ({"to": phone, "media_url": image, "consent": True, "body": "x" * 1601}, 400, None),
    ]:
        refused = send(server, **body)
        assert refused.status_code == status, (body, refused.text)
        assert code is None or refused.json()["error"]["code"] == code
    raw = httpx.post(f"{server.url}/v1/test-sends", content=b"{nope", headers=AUTH)
    assert raw.status_code == 400 and "not valid JSON" in raw.text
    assert httpx.post(f"{server.url}/v1/test-sends", json={}).status_code == 401
    assert sandbox.outbox() == [], "nothing reached the provider"


def test_without_a_provider_a_development_service_tests_with_the_sandbox():
    bare = CampaignSettings.from_env({})
    sandbox = bare.or_sandbox()
    assert (sandbox.provider, sandbox.twilio_base_url) == ("sandbox", "http://127.0.0.1:8010")
    assert sandbox.test_from == SENDER and bare.test_from == ""
    configured = CampaignSettings.from_env({"RENDERER_TWILIO_AUTH_TOKEN": TOKEN})
    assert configured.or_sandbox() is configured, "a configured provider is kept"


def editor(server, page):
    page.goto(f"{server.url}/studio/")
    page.fill("#api-key", API_KEY)
    page.goto(f"{server.url}/studio/#/t/flash_sale")
    page.wait_for_selector("#preview[data-sha256]")


def test_the_studio_sends_a_test_mms_and_shows_its_receipt(
    sending,
    browser,  # noqa: F811
    request,
):
    server, sandbox = sending
    page = open_page(browser, DESKTOP, request)
    editor(server, page)
    number = pick(True)
    page.fill("#test-to", number)
    page.click("#test-send button[type=submit]")
    page.wait_for_selector("#test-log li.error")
    assert "agreed" in page.inner_text("#test-log"), "consent first"
    page.check("#test-consent")
    page.click("#test-send button[type=submit]")
    page.wait_for_selector("#test-log .receipts[data-state=delivered]", timeout=60_000)
    log = page.inner_text("#test-log")
    assert "accepted it for …" in log and "delivered at" in log
    [message] = sandbox.outbox()
    assert message["to"] == number and message["sender"] == SENDER and "STOP" in message["body"]
    assert message["media_url"].startswith(f"{server.url}/i/flash_sale.jpg?")
    assert message["media_type"] == "image/jpeg", "the provider fetched the signed image"
    kept = httpx.get(f"{server.url}/v1/test-sends/{message['sid']}", headers=AUTH)
    shown = kept.json()
    assert shown["state"] == "delivered" and shown["provider"] == "twilio"
    assert [r["state"] for r in shown["receipts"]] == ["sent", "delivered"]
    assert shown["to"] == "…" + number[-4:] and number not in kept.text, "the number is masked"
    assert httpx.get(f"{server.url}/v1/test-sends/SMnope", headers=AUTH).status_code == 404
    page.locator("#test-send").scroll_into_view_if_needed()
    finish(page, "studio-test-send-desktop.png")

    phone = open_page(browser, PHONE, request)
    editor(server, phone)
    phone.fill("#test-to", pick(False))
    phone.check("#test-consent")
    phone.click("#test-send button[type=submit]")
    phone.wait_for_selector("#test-log li.error")
    assert "quiet hours: it is" in phone.inner_text("#test-log")
    assert no_overflow(phone) and len(sandbox.outbox()) == 1
    phone.locator("#test-send").scroll_into_view_if_needed()
    phone.screenshot(path=str(ARTIFACTS / "studio-test-send-phone.png"))
    finish(phone, "studio-test-send-phone-full.png", expected_status=[409])
