"""Template versions over HTTP: every upload is one, listed with who, when and its lint; a
signed URL keeps the version it was signed for until that version is retired (then 410);
a roll-back serves a kept version again; a dry run shows what an upload would store."""

import base64
import io

import httpx
import pytest
from PIL import Image

from .conftest import AUTH
from .test_upload import post, template_files, zipped

WHITE, RED, BLUE = "#ffffff", "#ff0000", "#0000ff"


def colour_of(data: bytes) -> tuple[int, int, int]:
    """The colour of the image's top-left corner, where the template is a plain fill."""
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((2, 2))


def near(colour: tuple[int, int, int], hex_colour: str) -> bool:
    wanted = bytes.fromhex(hex_colour[1:])
    return all(abs(a - b) <= 8 for a, b in zip(colour, wanted, strict=True))


def upload(server, colour: str, query: str = "") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/templates{query}",
        content=zipped(template_files("promo", colour=colour)),
        headers={**AUTH, "Content-Type": "application/zip"},
        timeout=120,
    )


def signed(server, **extra) -> str:
    body = {"template": "promo", "recipients": [{"first_name": "Ana"}], **extra}
    answer = httpx.post(f"{server.url}/v1/urls", json=body, headers=AUTH).json()
    return answer["urls"][0]


@pytest.fixture
def promo(start_server, tmp_path):
    """A server with no templates in its folder, then promo uploaded white and then red."""
    folder = tmp_path / "templates"
    folder.mkdir()
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    white = upload(server, WHITE)
    assert white.status_code == 201 and white.json()["replaces"] is None, white.text
    old_url = signed(server)
    red = upload(server, RED)
    assert red.json()["replaces"] == white.json()["version"], "the answer says what it replaced"
    return server, white.json()["version"], red.json()["version"], old_url


def test_versions_old_urls_roll_back_retire_and_dry_run(promo):
    server, white, red, old_url = promo
    listed = httpx.get(f"{server.url}/v1/templates/promo/versions", headers=AUTH).json()
    assert listed["current"] == red
    assert [v["version"] for v in listed["versions"]] == [red, white], "newest first"
    assert [v["current"] for v in listed["versions"]] == [True, False]
    newest = listed["versions"][0]
    assert newest["stored_by"].startswith("key:") and "dev-api-key" not in str(listed)
    assert newest["lint"]["errors"] == 0 and newest["stored_at"] > 0
    assert set(newest["files"]) == {"manifest.toml", "template.svg"}

    assert f"v={white}" in old_url
    assert near(colour_of(httpx.get(old_url).content), WHITE), "signed for white: still white"
    assert near(colour_of(httpx.get(signed(server)).content), RED)
    assert httpx.get(old_url.replace(white, red)).status_code == 403, "v is signed"

    preview = httpx.post(
        f"{server.url}/v1/templates/promo/preview",
        json={"fields": {"first_name": "Ana"}, "version": white},
        headers=AUTH,
    )
    assert preview.status_code == 200 and near(colour_of(preview.content), WHITE)
    assert httpx.get(f"{server.url}/v1/templates/promo/versions").status_code == 401

    # roll back, and retire
    base = f"{server.url}/v1/templates/promo/versions"
    back = httpx.post(f"{base}/{white}/restore", headers=AUTH)
    assert back.status_code == 200 and back.json()["version"] == white
    assert httpx.get(f"{server.url}/v1/templates/promo").json()["version"] == white
    assert near(colour_of(httpx.get(signed(server)).content), WHITE), "served again"
    assert httpx.post(f"{base}/{red}/restore", headers=AUTH).status_code == 200
    red_url = signed(server)  # signed for red
    assert httpx.post(f"{base}/{white}/restore", headers=AUTH).status_code == 200

    current = httpx.delete(f"{base}/{white}", headers=AUTH)
    assert current.status_code == 409 and current.json()["error"]["code"] == "version_is_current"
    assert httpx.get(red_url).status_code == 200  # in the memo of verified URLs, too
    assert httpx.delete(f"{base}/{red}", headers=AUTH).status_code == 204
    gone = httpx.get(red_url)
    assert gone.status_code == 410, "a URL of a retired version says so"
    assert gone.json()["error"]["code"] == "version_retired"
    assert "retired on" in gone.json()["error"]["message"]
    assert httpx.get(old_url).status_code == 200, "the version it was signed for is kept"
    for answer in (
        httpx.post(f"{base}/{red}/restore", headers=AUTH),
        httpx.delete(f"{base}/{red}", headers=AUTH),
        httpx.post(f"{server.url}/v1/templates/promo/preview", json={"version": red}, headers=AUTH),
        httpx.post(f"{base}/0123456789abcdef/restore", headers=AUTH),
    ):
        assert answer.status_code == 410 and answer.json()["error"]["code"] == "version_retired"
    not_one = httpx.post(f"{base}/{'x' * 500}/restore", headers=AUTH)
    assert not_one.status_code == 400 and "16 hexadecimal digits" in not_one.text
    listed = httpx.get(base, headers=AUTH).json()
    assert [v["version"] for v in listed["versions"]] == [white], "a retired one is not listed"
    assert httpx.get(f"{server.url}/v1/templates/nope/versions", headers=AUTH).status_code == 404

    assert httpx.delete(f"{server.url}/v1/templates/promo", headers=AUTH).status_code == 204
    assert httpx.get(base, headers=AUTH).json()["current"] is None, "listed after a delete"
    assert httpx.post(f"{base}/{white}/restore", headers=AUTH).status_code == 200
    assert httpx.get(f"{server.url}/v1/templates/promo").status_code == 200, "undeleted"
    a_dry_run_stores_nothing_and_shows_the_would_be_sample(server, white)


def a_dry_run_stores_nothing_and_shows_the_would_be_sample(server, red: str) -> None:
    dry = upload(server, BLUE, "?dry_run=1")
    assert dry.status_code == 200, dry.text
    answer = dry.json()
    assert answer["dry_run"] and answer["replaces"] == red and answer["version"] != red
    prefix = "data:image/jpeg;base64,"
    assert answer["sample"].startswith(prefix)
    assert near(colour_of(base64.b64decode(answer["sample"][len(prefix) :])), BLUE)
    assert httpx.get(f"{server.url}/v1/templates/promo").json()["version"] == red, "not stored"
    listed = httpx.get(f"{server.url}/v1/templates/promo/versions", headers=AUTH).json()
    assert answer["version"] not in [v["version"] for v in listed["versions"]]

    files = template_files("promo", colour=BLUE)
    files["template.svg"] = files["template.svg"].replace(
        "</svg>", '<text x="300" y="300" font-size="60">{{ first_name }} far too wide</text></svg>'
    )
    refused = post(server, zipped(files)).status_code  # the real upload refuses
    dry_refused = httpx.post(
        f"{server.url}/v1/templates?dry_run=1",
        content=zipped(files),
        headers={**AUTH, "Content-Type": "application/zip"},
        timeout=120,
    )
    assert refused == dry_refused.status_code == 422, "a dry run answers what the upload would"
    assert dry_refused.json()["error"]["lint"]["errors"] >= 1
