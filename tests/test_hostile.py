"""Malformed and hostile requests: each a 4xx with the JSON error body, never a 500; signed
URLs respelled without end do not grow memory; the access log cannot be forged or leak."""

import re
import shutil
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bench.hostile import HEAD, NAME, data_uri, solid_png
from renderer.service.signing import sign_url
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import AUTH, MANIFEST, Server, run_cli
from .test_http import AT, NEW, error, signed
from .test_upload import post, template_files, zipped

TIMEZONE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">'
    '<rect width="400" height="400" fill="#fff"/><text x="10" y="100" font-family="Inter" '
    'font-size="20" data-fit-width="380">{{ first_name }} {{ ends_at | date("%H:%M", tz=tz) }}'
    "</text></svg>"
)
TIMEZONE_MANIFEST = MANIFEST.format(name="zoned", width=400, height=400) + (
    '\n[fields.tz]\ntype = "timezone"\ndefault = "America/New_York"\n'
    '[fields.ends_at]\ntype = "datetime"\ntimezone_field = "tz"\ndefault = "2026-12-01T10:00"\n'
)


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    """A server whose templates folder also holds a template with a time zone field."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "templates"
    shutil.copytree(BUNDLED_TEMPLATES / "flash_sale", folder / "flash_sale")
    (folder / "zoned").mkdir()
    (folder / "zoned" / "template.svg").write_text(TIMEZONE_SVG)
    (folder / "zoned" / "manifest.toml").write_text(TIMEZONE_MANIFEST)
    running = Server(root / "server.log", {"RENDERER_TEMPLATES": str(folder)})
    running.folder = folder
    yield running
    running.stop()


@pytest.mark.parametrize("zone", ["America", "Etc", "posixrules", "America/"])
def test_a_time_zone_that_names_a_folder_is_a_field_error(zoned, zone):
    values = {"first_name": "Ana", "tz": zone}
    message = error(
        httpx.post(
            f"{zoned.url}/v1/templates/zoned/preview", json={"fields": values}, headers=AUTH
        ),
        400,
        "invalid_fields",
    )
    assert "is not an IANA time zone" in message
    error(httpx.get(signed(zoned, "zoned", values)), 400, "invalid_fields")
    batch = httpx.post(
        f"{zoned.url}/v1/urls",
        json={"template": "zoned", "recipients": [values, {"first_name": "Bo"}]},
        headers=AUTH,
    ).json()
    assert batch["urls"][0] is None and batch["urls"][1].startswith(zoned.url), "one bad row"
    done = run_cli("render", "zoned", "--templates", str(zoned.folder), "--set", "first_name=A",
                   "--set", f"tz={zone}", "--out", "/dev/null")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not an IANA time zone" in done.stderr


@pytest.mark.parametrize(
    ("value", "what"),
    [("A\tB", "TAB"), ("A\ufffeB", "U+FFFE"), ("A\uffffB", "U+FFFF"), ("A\x85B", "NEL")],
)
def test_control_and_noncharacters_are_field_errors(server, value, what):
    response = httpx.post(
        f"{server.url}/v1/templates/flash_sale/preview",
        json={"fields": {"first_name": value}},
        headers=AUTH,
    )
    assert "control characters" in error(response, 400, "invalid_fields"), what


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": 5}, "format must be jpg, png or gif"),
        ({"at": True}, "at must be unix seconds"),
        ({"budget": [1]}, "not a byte size"),
        ({"fields": {"first_name": ["Ana"]}}, "must be a string or a number"),
    ],
)
def test_preview_bodies_of_the_wrong_type(server, body, message):
    body = {"fields": {"first_name": "Ana"}} | body
    response = httpx.post(f"{server.url}/v1/templates/flash_sale/preview", json=body, headers=AUTH)
    assert message in error(response, 400, "bad_request")


def test_a_batch_pinned_with_true_is_refused(server):
    body = {"template": "flash_sale", "at": True, "recipients": [{"first_name": "Ana"}]}
    response = httpx.post(f"{server.url}/v1/urls", json=body, headers=AUTH)
    assert "at must be unix seconds" in error(response, 400, "bad_request")


def test_purging_a_url_of_no_format(server):
    url = signed(server, format="bmp", at=AT)
    response = httpx.delete(f"{server.url}/v1/images", params={"url": url}, headers=AUTH)
    assert "format must be jpg, png or gif" in error(response, 404, "not_found")


def _zip_with(name: str, mutate) -> bytes:
    """A valid template zip, then ``mutate``d as raw bytes."""
    return mutate(zipped(template_files(name)))


def _bad_crc(data: bytes) -> bytes:
    crc = data.index(b"PK\x01\x02") + 16  # the central directory's CRC-32 of the first file
    return data[:crc] + bytes([data[crc] ^ 0xFF]) + data[crc + 1 :]


def _lying_size(data: bytes) -> bytes:
    central = data.index(b"PK\x01\x02")
    size = central + 24  # the central directory's uncompressed size of the first file
    return data[:size] + struct.pack("<I", 3) + data[size + 4 :]


def _flagged(flag: int, method: int | None = None):
    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            for match in re.finditer(re.escape(signature), data):
                at = match.start() + offset
                out[at] |= flag
                if method is not None:
                    out[at + 2 : at + 4] = struct.pack("<H", method)
        return bytes(out)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_bad_crc, "Bad CRC-32"),
        (_lying_size, "not a readable zip file"),
        (_flagged(0x1), "is encrypted"),
        (_flagged(0, method=9), "compression method 9"),
        (lambda data: data[: len(data) // 2], "not a readable zip file"),
    ],
    ids=["bad-crc", "lying-size", "encrypted", "deflate64", "truncated"],
)
def test_malformed_zips_are_refused(server, mutate, message):
    response = post(server, _zip_with("evil", mutate))
    assert message in error(response, 400, "unsafe_upload")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"manifest.toml": 'name = "evil\\n"', "template.svg": "<svg/>"}, 'needs name = "..."'),
        ({"manifest.toml": 'name = "a"', "x": "", "x/y": ""}, "is both a file and a folder"),
        ({"manifest.toml": 'name = "a"', "a\nb.svg": ""}, "control characters"),
    ],
)
def test_unsafe_names_are_refused(server, files, message):
    assert message in error(post(server, zipped(files)), 400, "unsafe_upload")


def _corrupt_png() -> bytes:
    png = solid_png(40, 40)
    start = png.index(b"IDAT") + 4
    return png[:start] + b"\0" * 30 + png[start + 30 :]


def test_a_template_that_loads_but_does_not_render_gets_a_lint_report(server):
    picture = f'<image width="40" height="40" href="{data_uri("image/png", _corrupt_png())}"/>'
    svg = HEAD + NAME + f'<g data-dynamic="1">{picture}</g></svg>'  # drawn per render only
    manifest = MANIFEST.format(name="evil", width=400, height=400)
    response = post(server, zipped({"template.svg": svg, "manifest.toml": manifest}))
    findings = response.json()["error"]["lint"]["findings"]
    assert response.status_code == 422 and findings[0]["rule"] == "render", findings


def test_respelled_signed_urls_verify_but_grow_nothing(start_server):
    server = start_server()
    url = sign_url(server.url, "flash_sale", "jpg", {"first_name": "A\ufffd"}, kid=NEW[0],
                   secret=NEW[1], at=AT)  # fmt: skip
    assert httpx.get(url).status_code == 200
    invalid = url.replace(quote("\ufffd"), "%FF")
    assert "not UTF-8" in error(httpx.get(invalid), 400, "bad_request"), "%FF is not U+FFFD"
    before = _rss(server)
    padding = "&" * 8000  # each spelling about 8 KB: 1,000 of them would be 8 MB remembered

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(4) as pool:
        spellings = (url.replace("?", f"?{padding[: 7000 + i]}", 1) for i in range(1000))
        assert {r.status_code for r in pool.map(client.get, spellings)} == {200}
    grown = _rss(server) - before
    assert grown < 4_000_000, f"RSS grew {grown / 1e6:.1f} MB"


def _rss(server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) * 1024


def test_the_access_log_cannot_be_forged_or_leak_a_signature(zoned):
    server = zoned
    url = signed(server, at=AT)
    secret = url.rsplit("sig=", 1)[1]
    httpx.get(f"{server.url}/i/x%0A2026-01-01T00:00:00 access 6.6.6.6 forged.jpg")
    httpx.delete(f"{server.url}/v1/images", params={"url": url}, headers=AUTH)
    time.sleep(1)  # the access log writes in batches, at most half a second apart
    log = server.log()
    assert secret not in log and "sig%3DREDACTED" in log
    assert "access 6.6.6.6" not in "\n".join(line for line in log.splitlines()
                                            if line.startswith("2026-01-01"))  # fmt: skip
    assert "/i/x\\x0a2026-01-01" in log


def test_odd_methods_share_one_metrics_label(server):
    for method in ("PROPFIND", "MKCOL", "SEARCH"):
        assert httpx.request(method, f"{server.url}/healthz").status_code == 405
    text = httpx.get(f"{server.url}/metrics").text
    assert "PROPFIND" not in text and 'method="other"' in text


def test_redis_coming_back_is_logged_once(start_server, redis_server):
    server = start_server({"RENDERER_REDIS_URL": redis_server.url})
    urls = [signed(server, fields={"first_name": f"N{i}"}, at=AT) for i in range(22)]
    assert httpx.get(urls[0]).status_code == 200
    redis_server.stop()
    assert httpx.get(urls[1], timeout=30).status_code == 200
    redis_server.start()
    time.sleep(2.5)  # the backend tries Redis again after two seconds
    with ThreadPoolExecutor(10) as pool:
        assert set(pool.map(lambda u: httpx.get(u, timeout=30).status_code, urls[2:])) == {200}
    backend = [line for line in server.log().splitlines() if "renderer.service.backend" in line]
    assert sum("is unreachable" in line for line in backend) == 1, backend
    assert sum("reachable again" in line for line in backend) == 1, backend


def test_studio_pages_send_their_security_headers(server):
    response = httpx.get(f"{server.url}/studio/")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        httpx.get(f"{server.url}/studio/studio.js").headers["x-content-type-options"] == "nosniff"
    )
