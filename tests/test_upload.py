"""Uploading templates over HTTP: stored only when lint is clean, and never outside the
templates folder whatever the zip holds."""

import io
import shutil
import stat
import time
import zipfile

import httpx
import pytest

from renderer.service.signing import sign_url
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import AUTH, MANIFEST
from .test_http import AT, NEW

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">'
    '<rect width="400" height="400" fill="{colour}"/>'
    '<text x="20" y="200" font-family="Inter" font-size="40" data-fit-width="360" '
    'data-min-size="8">{{{{ first_name }}}}</text></svg>'
)


def zipped(files: dict[str, bytes | str], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def template_files(name: str, colour: str = "#ffffff") -> dict[str, str]:
    return {
        "template.svg": SVG.format(colour=colour),
        "manifest.toml": MANIFEST.format(name=name, width=400, height=400),
    }


@pytest.fixture
def uploads(start_server, tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED_TEMPLATES / "flash_sale", folder / "flash_sale")
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    return server, folder


def post(server, body: bytes, headers=AUTH, retry_busy: bool = True) -> httpx.Response:
    """Upload a zip; a 503 ``busy`` (the machine, not the template, ran out of time to lint
    it) is retried after its Retry-After, as a client is told to."""
    for _ in range(5):
        response = httpx.post(
            f"{server.url}/v1/templates",
            content=body,
            timeout=120,
            headers={**headers, "Content-Type": "application/zip"},
        )
        if not retry_busy or response.status_code != 503:
            break
        assert response.json()["error"]["code"] == "busy", response.text
        time.sleep(float(response.headers["retry-after"]))
    return response


def test_upload_lint_store_render_replace_delete(uploads):
    server, folder = uploads
    response = post(server, zipped({f"promo/{k}": v for k, v in template_files("promo").items()}))
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["template"] == "promo" and first["lint"]["errors"] == 0
    shown = httpx.get(f"{server.url}/v1/templates/promo").json()
    assert shown["version"] == first["version"]
    assert sorted(p.name for p in folder.iterdir()) == ["flash_sale"], "stored, not in the folder"
    url = sign_url(
        server.url, "promo", "png", {"first_name": "Ana"}, kid=NEW[0], secret=NEW[1], at=AT
    )
    white = httpx.get(url)
    assert white.status_code == 200

    replaced = post(server, zipped(template_files("promo", colour="#000000")))
    assert replaced.status_code == 201 and replaced.json()["version"] != first["version"]
    black = httpx.get(url)
    assert black.content != white.content, "the old version's image is not served"
    assert black.headers["etag"] != white.headers["etag"]

    assert httpx.delete(f"{server.url}/v1/templates/promo", headers=AUTH).status_code == 204
    assert httpx.get(f"{server.url}/v1/templates/promo").status_code == 404
    assert httpx.get(url).status_code == 404
    assert httpx.delete(f"{server.url}/v1/templates/promo", headers=AUTH).status_code == 404


def test_multipart_upload(uploads):
    server, _ = uploads
    files = [("files", (name, data)) for name, data in template_files("multi").items()]
    response = httpx.post(f"{server.url}/v1/templates", files=files, headers=AUTH)
    assert response.status_code == 201, response.text


def test_a_zip_sent_as_the_one_file_of_a_form_is_unpacked(uploads):
    """What ``curl -F file=@promo.zip`` and the studio's file picker send."""
    server, _ = uploads
    form = {"file": ("promo.zip", zipped(template_files("formzip")), "application/zip")}
    response = httpx.post(f"{server.url}/v1/templates", files=form, headers=AUTH, timeout=120)
    assert response.status_code == 201, response.text
    assert httpx.get(f"{server.url}/v1/templates/formzip").status_code == 200
    broken = {"file": ("promo.zip", b"PK\x03\x04 truncated", "application/zip")}
    refused = httpx.post(f"{server.url}/v1/templates", files=broken, headers=AUTH, timeout=120)
    assert refused.status_code == 400 and "zip" in refused.json()["error"]["message"]


def assert_nothing_written(server, folder, tmp_path):
    assert sorted(p.name for p in folder.iterdir()) == ["flash_sale"]
    expected = {"templates", "server0.log", server.data_dir.name}
    assert {p.name for p in tmp_path.iterdir()} == expected, "nothing but the data folder"
    listed = httpx.get(f"{server.url}/v1/templates").json()["templates"]
    assert [t["name"] for t in listed] == ["flash_sale"], "nothing stored"


@pytest.mark.parametrize(
    ("make_zip", "message"),
    [
        (
            lambda: zipped({**template_files("evil"), "../../x": "pwned"}),
            "outside the template's folder",
        ),
        (
            lambda: zipped({**template_files("evil"), "/etc/x": "pwned"}),
            "outside the template's folder",
        ),
        (lambda: zipped(template_files("evil"), links={"logo.png": "/etc/passwd"}), "is a link"),
        (
            lambda: zipped({**template_files("evil"), **{f"f{i}.txt": "" for i in range(10_000)}}),
            "10,002 files; at most 200",
        ),
        (lambda: b"not a zip", "not a zip file"),
        (lambda: zipped({"template.svg": "<svg/>"}), "no manifest.toml"),
    ],
)
def test_unsafe_zips_are_refused(uploads, tmp_path, make_zip, message):
    server, folder = uploads
    response = post(server, make_zip())
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
    assert_nothing_written(server, folder, tmp_path)


def test_a_1_gb_zip_bomb_is_refused(uploads, tmp_path):
    server, folder = uploads
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("manifest.toml", MANIFEST.format(name="bomb", width=400, height=400))
        with archive.open("template.svg", "w", force_zip64=True) as stream:
            chunk = b"\0" * (1 << 20)
            for _ in range(1024):
                stream.write(chunk)
    assert len(buffer.getvalue()) < 5_000_000
    response = post(server, buffer.getvalue())
    assert response.status_code == 400 and "unpacks to over" in response.text
    assert_nothing_written(server, folder, tmp_path)


def test_a_template_with_lint_errors_is_not_stored(uploads, tmp_path):
    server, folder = uploads
    files = template_files("external")
    files["template.svg"] = files["template.svg"].replace(
        "</svg>", '<image href="https://cdn.example.com/x.png"/></svg>'
    )
    response = post(server, zipped(files))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "lint_failed"
    assert error["lint"]["findings"][0]["rule"] == "external-reference"
    assert_nothing_written(server, folder, tmp_path)


def test_upload_needs_the_api_key(uploads):
    server, _ = uploads
    assert post(server, zipped(template_files("x")), headers={}).status_code == 401
