"""POST /v1/urls: signed URLs for a batch of recipients, per-recipient errors, pre-render."""

import io
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from PIL import Image

from .conftest import AUTH
from .test_http import AT, error


def post(server, body, headers=AUTH, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/urls", json=body, headers=headers, timeout=120, **kwargs)


def test_urls_in_order_with_per_recipient_errors(server):
    recipients = [
        {"first_name": "Ana", "discount": 30},
        {"first_name": "Bob", "discount": "lots"},
        {"discount": 20},
        {"first_name": "Zoë", "code": "ZOE50"},
    ]
    response = post(server, {"template": "flash_sale", "at": AT, "recipients": recipients})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["template"] == "flash_sale" and len(body["version"]) == 16
    urls = body["urls"]
    assert [url is None for url in urls] == [False, True, True, False]
    assert body["errors"] == [
        {"index": 1, "field": "discount", "message": "must be a whole number; got 'lots'"},
        {"index": 2, "field": "first_name", "message": "is required"},
    ]
    query = dict(parse_qsl(urlsplit(urls[3]).query))
    assert query["first_name"] == "Zoë" and query["code"] == "ZOE50"
    assert query["at"] == str(AT) and query["kid"] == "k2" and query["sig"]
    assert urls[0].startswith(f"{server.url}/i/flash_sale.jpg?")
    image = Image.open(io.BytesIO(httpx.get(urls[3]).content))
    assert image.size == (1080, 1080)


def test_ten_thousand_recipients(server):
    recipients = [{"first_name": f"Person {i}"} for i in range(10_000)]
    body = post(server, {"template": "flash_sale", "recipients": recipients}).json()
    assert len(body["urls"]) == 10_000 and body["errors"] == []
    assert dict(parse_qsl(urlsplit(body["urls"][9_999]).query))["first_name"] == "Person 9999"
    too_many = post(server, {"template": "flash_sale", "recipients": [*recipients, {}]})
    assert "at most 10,000 recipients" in error(too_many, 413, "too_large")


def test_prerender_makes_the_fetch_a_hit(start_server):
    server = start_server()
    recipients = [{"first_name": name} for name in ("Ana", "Bob", "Chloé", "Dmitri")]
    body = post(
        server, {"template": "flash_sale", "at": AT, "prerender": True, "recipients": recipients}
    ).json()
    assert body["prerendered"] == 4 and body["errors"] == []
    assert server.metric("mms_renders_total") == 4
    for url in body["urls"]:
        response = httpx.get(url)
        assert response.status_code == 200 and response.headers["x-cache"] == "l1"
    assert server.metric("mms_renders_total") == 4


def test_format_and_exp(server):
    body = post(
        server,
        {
            "template": "refer_friend",
            "format": "png",
            "exp": 4102444800,
            "recipients": [{"first_name": "Ana", "referral_code": "ANA-1"}],
        },
    ).json()
    url = body["urls"][0]
    assert "/i/refer_friend.png?" in url and "exp=4102444800" in url
    assert httpx.get(url).headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "a valid API key is required"), ({"Authorization": "Bearer wrong"}, "a valid API key")],
)
def test_no_or_wrong_api_key_is_401(server, headers, message):
    response = post(server, {"template": "flash_sale", "recipients": []}, headers=headers)
    assert message in error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        (b"{not json", 400, "bad_request", "not valid JSON"),
        (b"[1, 2]", 400, "bad_request", "must be a JSON object"),
        (b'{"recipients": []}', 400, "bad_request", "template is required"),
        (b'{"template": "flash_sale"}', 400, "bad_request", "recipients is required"),
        (b'{"template": "nope", "recipients": []}', 404, "unknown_template", "nope"),
        (
            b'{"template": "flash_sale", "recipients": [], "colour": 1}',
            400,
            "bad_request",
            "unknown key 'colour'",
        ),
        (
            b'{"template": "flash_sale", "recipients": [], "format": "bmp"}',
            400,
            "bad_request",
            "format must be",
        ),
        (
            b'{"template": "flash_sale", "recipients": [], "at": "soon"}',
            400,
            "bad_request",
            "at must be",
        ),
        (
            b'{"template": "flash_sale", "recipients": [], "exp": "x"}',
            400,
            "bad_request",
            "exp must be",
        ),
        (b"[" * 100000, 400, "bad_request", "not valid JSON"),
    ],
)
def test_malformed_bodies(server, body, status, code, message):
    response = httpx.post(f"{server.url}/v1/urls", content=body, headers=AUTH)
    assert message in error(response, status, code)


def test_body_over_the_limit_is_413(server):
    huge = b'{"template": "flash_sale", "recipients": [' + b'{"first_name": "A"},' * 300_000
    response = httpx.post(f"{server.url}/v1/urls", content=huge + b"{}]}", headers=AUTH)
    assert "over 4,194,304 bytes" in error(response, 413, "too_large")


def test_bad_recipient_shapes_are_per_recipient(server):
    body = post(
        server,
        {
            "template": "flash_sale",
            "recipients": [
                "Ana",
                {"first_name": {"x": 1}},
                {"first_name": True},
                {"first_name": "Ok"},
            ],
        },
    ).json()
    assert [e["index"] for e in body["errors"]] == [0, 1, 2]
    assert body["urls"][3] is not None
