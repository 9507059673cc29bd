"""The service over real HTTP: a real uvicorn process on a free port."""

import io
import time
from urllib.parse import urlencode

import httpx
import pytest
from PIL import Image, ImageChops

from renderer.service.signing import canonical, sign_url, signature

from .conftest import AUTH

AT = 1795000000  # 2026-11-18T08:53:20Z
NEW = ("k2", "second-secret-0123456789")
OLD = ("k1", "first-secret-0123456789")


def signed(server, template="flash_sale", fields=None, *, format="jpg", key=NEW, **extra) -> str:
    fields = {"first_name": "Ana"} if fields is None else fields
    kid, secret = key
    return sign_url(server.url, template, format, fields, kid=kid, secret=secret, **extra)


def decode(response: httpx.Response) -> Image.Image:
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_signed_url_gives_the_image(server):
    response = httpx.get(signed(server, fields={"first_name": "Maëlle"}, at=AT))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = decode(response)
    assert image.format == "JPEG" and image.size == (1080, 1080)
    assert len(response.content) <= 500_000


@pytest.mark.parametrize(("format", "kind"), [("png", "PNG"), ("gif", "GIF")])
def test_other_formats(server, format, kind):
    response = httpx.get(
        signed(
            server,
            "refer_friend",
            {"first_name": "Ana", "referral_code": "ANA-1"},
            format=format,
            at=AT,
        )
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"image/{format}"
    assert decode(response).format == kind and len(response.content) <= 500_000


def test_second_fetch_is_a_cache_hit_with_identical_bytes(server):
    url = signed(server, fields={"first_name": "Cache Test"}, at=AT)
    hits = server.metric("mms_cache_lookups_total", tier="l1", result="hit")
    renders = server.metric("mms_renders_total", template="flash_sale")
    first, second = httpx.get(url), httpx.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("render", "l1")
    assert server.metric("mms_cache_lookups_total", tier="l1", result="hit") == hits + 1
    assert server.metric("mms_renders_total", template="flash_sale") == renders + 1
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=3600"  # follows the template


def test_a_hit_answered_before_routing_is_answered_and_counted_like_the_render(server):
    url = signed(server, fields={"first_name": "Before Routing"}, at=AT)
    first = httpx.get(url)
    served = server.metric("mms_request_seconds_count", route="/i/{file}", status="200")
    bytes_out = server.metric("mms_image_bytes_out_total")
    second, head = httpx.get(url), httpx.head(url)
    assert second.headers["x-cache"] == head.headers["x-cache"] == "l1"
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert first.headers[name] == second.headers[name] == head.headers[name]
    assert second.content == first.content and head.content == b""
    # the access log's histogram labels the hit with the image route, not "unmatched"
    assert server.metric("mms_request_seconds_count", route="/i/{file}", status="200") == (
        served + 2
    )
    assert server.metric("mms_image_bytes_out_total") == bytes_out + len(first.content)


def test_if_none_match_gives_304(server):
    url = signed(server, fields={"first_name": "Etag"}, at=AT)
    etag = httpx.get(url).headers["etag"]
    response = httpx.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == etag
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_names_differ_in_pixels_over_http(server):
    ana = decode(httpx.get(signed(server, fields={"first_name": "Ana"}, at=AT))).convert("L")
    bob = decode(httpx.get(signed(server, fields={"first_name": "Bob"}, at=AT))).convert("L")
    _, top, _, bottom = ImageChops.difference(ana, bob).getbbox()
    assert top >= 600 - 64 - 16 and bottom <= 600 + 20 + 16  # only the greeting line


def test_pinned_at_returns_the_same_bytes_and_unpinned_is_short_lived(server):
    pinned = signed(server, fields={"first_name": "Pin"}, at=AT)
    assert httpx.get(pinned).content == httpx.get(pinned).content
    unpinned = httpx.get(signed(server, fields={"first_name": "Pin"}))
    assert unpinned.status_code == 200
    max_age = int(unpinned.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= 60
    assert "immutable" not in unpinned.headers["cache-control"]


def test_a_template_without_a_clock_is_immutable_when_signed_for_its_version(server):
    version = httpx.get(f"{server.url}/v1/templates/loyalty_badge").json()["version"]
    pinned = signed(server, "loyalty_badge", {"first_name": "Ana"}, version=version)
    assert httpx.get(pinned).headers["cache-control"] == "public, max-age=31536000, immutable"
    following = signed(server, "loyalty_badge", {"first_name": "Ana"})
    assert httpx.get(following).headers["cache-control"] == "public, max-age=3600"


def test_countdown_follows_at(server):
    """Two pinned times an hour apart: only the countdown line differs."""
    one = decode(httpx.get(signed(server, fields={"first_name": "Ana"}, at=AT)))
    two = decode(httpx.get(signed(server, fields={"first_name": "Ana"}, at=AT + 3600)))
    _, top, _, bottom = ImageChops.difference(one.convert("L"), two.convert("L")).getbbox()
    assert top >= 950 and bottom <= 1040  # the countdown's line, y = 1010


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()["error"]
    assert body["code"] == code
    assert "Traceback" not in response.text
    return body["message"]


def test_unsigned_url_is_403(server):
    error(httpx.get(f"{server.url}/i/flash_sale.jpg?first_name=Ana"), 403, "bad_signature")


def test_tampered_url_is_403(server):
    url = signed(server, at=AT).replace("first_name=Ana", "first_name=Eve")
    error(httpx.get(url), 403, "bad_signature")


def test_unknown_template_is_404(server):
    error(httpx.get(signed(server, "nope", {})), 404, "unknown_template")


def test_unknown_format_is_404(server):
    error(httpx.get(signed(server, format="bmp")), 404, "not_found")


def test_bad_field_is_400_naming_the_field(server):
    message = error(
        httpx.get(signed(server, fields={"first_name": "Ana", "discount": "lots"})),
        400,
        "invalid_fields",
    )
    assert "discount: must be a whole number" in message
    response = httpx.get(signed(server, fields={"first_name": "Ana", "discount": "lots"}))
    assert response.json()["error"]["fields"] == [
        {"field": "discount", "message": "must be a whole number; got 'lots'"}
    ]


def test_missing_required_field_is_400(server):
    assert "first_name: is required" in error(
        httpx.get(signed(server, fields={})), 400, "invalid_fields"
    )


def test_unknown_query_parameter_is_400(server):
    message = error(
        httpx.get(signed(server, fields={"first_name": "A", "utm": "x"})), 400, "invalid_fields"
    )
    assert "utm: unknown field" in message


def test_repeated_parameter_is_400(server):
    """Even signed, a field given twice is refused: which one would the image show?"""
    pairs = [("first_name", "Ana"), ("first_name", "Bob"), ("kid", "k2")]
    sig = signature(NEW[1].encode(), canonical("/i/flash_sale.jpg", pairs))
    url = f"{server.url}/i/flash_sale.jpg?{urlencode([*pairs, ('sig', sig)])}"
    assert "given more than once" in error(httpx.get(url), 400, "bad_request")


def test_query_over_8kb_is_414(server):
    url = signed(server, fields={"first_name": "A" * 9000})
    error(httpx.get(url), 414, "uri_too_long")


def test_bad_at_is_400(server):
    assert "at must be unix seconds" in error(
        httpx.get(signed(server, at="soon")), 400, "bad_request"
    )


def test_expired_url_is_410(server):
    error(httpx.get(signed(server, exp=int(time.time()) - 1)), 410, "expired")
    assert httpx.get(signed(server, exp=int(time.time()) + 600, at=AT)).status_code == 200


def test_key_rotation(start_server):
    """A URL signed with the old key works while both keys are set, and fails once it is gone."""
    both = start_server()  # k2 signs, k1 still verifies
    old_url = signed(both, key=OLD, at=AT)
    assert httpx.get(old_url).status_code == 200
    only_new = start_server({"RENDERER_SIGNING_KEYS": "k2:second-secret-0123456789"})
    error(httpx.get(old_url.replace(both.url, only_new.url)), 403, "bad_signature")
    assert httpx.get(signed(only_new, at=AT)).status_code == 200


def test_unknown_route_is_a_json_404(server):
    assert error(httpx.get(f"{server.url}/nothing/here"), 404, "not_found") == "Not Found"


def test_wrong_method_is_a_json_405(server):
    error(httpx.delete(f"{server.url}/v1/urls", headers=AUTH), 405, "method_not_allowed")


def test_healthz_and_templates(server):
    health = httpx.get(f"{server.url}/healthz").json()
    assert {k: health[k] for k in ("status", "templates", "redis", "store")} == {
        "status": "ok",
        "templates": 7,
        "redis": None,  # no RENDERER_REDIS_URL: no shared cache
        "store": True,  # ... but the template store, in the data folder's embedded Redis
    }
    assert health["pid"] == server.process.pid and len(health["versions"]) == 7
    listing = httpx.get(f"{server.url}/v1/templates").json()
    assert [t["name"] for t in listing["templates"]][:2] == ["countdown_gif", "flash_sale"]
    detail = httpx.get(f"{server.url}/v1/templates/low_stock").json()
    assert detail["fields"]["stock"]["type"] == "int" and detail["height"] == 1350
    error(httpx.get(f"{server.url}/v1/templates/nope"), 404, "unknown_template")


def test_openapi_describes_every_route(server):
    from renderer.service.app import create_app

    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    routes = {route.path for route in create_app().routes}
    assert routes == set(spec["paths"])


def test_access_log_redacts_signatures_and_keys(server):
    url = signed(server, fields={"first_name": "Logged"}, at=AT)
    sig = url.rsplit("sig=", 1)[1]
    httpx.get(url)
    httpx.post(f"{server.url}/v1/urls", headers=AUTH, json={"template": "nope", "recipients": []})
    time.sleep(1)  # lines are written in batches, at most half a second late
    log = server.log()
    assert "sig=REDACTED" in log and "/i/flash_sale.jpg?" in log
    assert sig not in log
    assert AUTH["Authorization"].split()[1] not in log
    assert "second-secret" not in log and "first-secret" not in log


def test_preview_renders_any_values_with_figures(server):
    response = httpx.post(
        f"{server.url}/v1/templates/flash_sale/preview",
        headers=AUTH,
        json={
            "fields": {"first_name": "Bartholomew-Fitzgerald Featherstonehaugh"},
            "format": "png",
            "budget": "300KB",
            "at": AT,
        },
    )
    assert response.status_code == 200, response.text
    assert decode(response).format == "PNG"
    assert int(response.headers["x-render-bytes"]) == len(response.content) <= 300_000
    assert response.headers["x-render-budget"] == "300000"
    assert int(response.headers["x-render-encodes"]) >= 1
    error(httpx.post(f"{server.url}/v1/templates/flash_sale/preview", json={}), 401, "unauthorized")
    message = error(
        httpx.post(
            f"{server.url}/v1/templates/flash_sale/preview",
            headers=AUTH,
            json={"fields": {"first_name": "A"}, "budget": "900KB"},
        ),
        400,
        "budget",
    )
    assert "hard cap" in message


def test_development_keys_warn_and_refuse_public_addresses(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT, Server

    env = {"RENDERER_SIGNING_KEYS": "", "RENDERER_API_KEYS": ""}
    running = Server(tmp_path / "dev.log", env)
    try:
        assert "DEVELOPMENT keys" in running.log()
        url = sign_url(
            running.url,
            "flash_sale",
            "jpg",
            {"first_name": "Dev"},
            kid="dev",
            secret="mms-renderer-development-key-do-not-use",
            at=AT,
        )
        assert httpx.get(url).status_code == 200
    finally:
        running.stop()
    refused = subprocess.run(
        [sys.executable, "-m", "renderer", "serve", "--host", "0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert refused.returncode == 2
    assert "refusing to serve on a non-loopback address" in refused.stderr


def test_a_known_url_with_exp_still_expires(server):
    """Repeat fetches of a URL skip re-verification, but never past its exp."""
    url = signed(server, fields={"first_name": "Soon"}, at=AT, exp=int(time.time()) + 2)
    assert httpx.get(url).status_code == 200
    assert httpx.get(url).headers["x-cache"] == "l1"
    time.sleep(2.2)
    error(httpx.get(url), 410, "expired")


def test_a_known_url_tampered_is_still_refused(server):
    url = signed(server, fields={"first_name": "Known"}, at=AT)
    assert httpx.get(url).status_code == 200
    error(httpx.get(url.replace("Known", "Knowm")), 403, "bad_signature")
