"""One source of truth for templates: every worker and every instance serves the same
versions soon after an upload, a replace or a delete, and a purge reaches every L1."""

import http.client
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from bench.hostile import solid_png
from renderer.service import keys
from renderer.service.signing import sign_url
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import AUTH, MANIFEST
from .test_http import NEW
from .test_upload import post, template_files, zipped

LOGO = solid_png(40, 40)
PROPAGATION_SECONDS = 10  # the design bound is one second; this only stops a broken test


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> dict[str, str]:
    """A templates folder of one small template: workers start (and load it) quickly."""
    folder = tmp_path_factory.mktemp("seed") / "templates"
    (folder / "tiny").mkdir(parents=True)
    for path, data in template_files("tiny").items():
        (folder / "tiny" / path).write_text(data)
    return {"RENDERER_TEMPLATES": str(folder)}


def on_one_connection(server, *paths: str) -> list[http.client.HTTPResponse]:
    """GET each path over one new connection: the same worker answers them all, and new
    connections are spread over the workers by the kernel. Bodies are read."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        answers = []
        for path in paths:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.body = answer.read()
            answers.append(answer)
        return answers
    finally:
        connection.close()


def served(server, tries: int = 12) -> dict[int, dict[str, str]]:
    """pid -> the versions that worker serves."""
    seen = {}
    for _ in range(tries):
        health = json.loads(on_one_connection(server, "/healthz")[0].body)
        seen[health["pid"]] = health["versions"]
    return seen


def wait_for_agreement(server, name: str, version: str | None, workers: int) -> float:
    """Seconds until ``workers`` workers all serve ``version`` of ``name`` (None: not at all)."""
    started = time.monotonic()
    while time.monotonic() - started < PROPAGATION_SECONDS:
        seen = served(server)
        if len(seen) == workers and all(v.get(name) == version for v in seen.values()):
            return time.monotonic() - started
    pytest.fail(f"workers still disagree about {name}: {seen}")


def upload(server, name: str, colour: str) -> str:
    """Upload a template with an image asset (the store has no folder to read it from)."""
    files = template_files(name, colour=colour)
    files["template.svg"] = files["template.svg"].replace(
        "</svg>", '<image href="logo.png" x="10" y="10" width="40" height="40"/></svg>'
    )
    response = post(server, zipped({**files, "logo.png": LOGO}))
    assert response.status_code == 201, response.text
    return response.json()["version"]


def test_two_workers_serve_the_same_version_after_upload_replace_and_delete(start_server, seed):
    server = start_server(seed, args=("--workers", "2"))
    first = upload(server, "promo", "#ffffff")
    wait_for_agreement(server, "promo", first, 2)
    second = upload(server, "promo", "#000000")
    assert second != first
    wait_for_agreement(server, "promo", second, 2)
    path = sign_url("", "promo", "png", {"first_name": "Ana"}, kid=NEW[0], secret=NEW[1])
    answers = [on_one_connection(server, path)[0] for _ in range(8)]
    assert {a.status for a in answers} == {200}
    assert len({a.body for a in answers}) == 1, "every worker draws the new version"
    assert httpx.delete(f"{server.url}/v1/templates/promo", headers=AUTH).status_code == 204
    wait_for_agreement(server, "promo", None, 2)
    assert {on_one_connection(server, path)[0].status for _ in range(8)} == {404}


def test_two_instances_on_one_redis_follow_each_other(start_server, redis_server, seed):
    env = {"RENDERER_REDIS_URL": redis_server.url, **seed}
    one, two = start_server(env), start_server(env)
    version = upload(one, "promo", "#ffffff")
    wait_for_agreement(two, "promo", version, 1)
    url = sign_url(one.url, "promo", "png", {"first_name": "Ana"}, kid=NEW[0], secret=NEW[1])
    from_two = httpx.get(url.replace(one.url, two.url))
    assert from_two.status_code == 200
    assert from_two.content == httpx.get(url).content
    assert httpx.delete(f"{two.url}/v1/templates/promo", headers=AUTH).status_code == 204
    wait_for_agreement(one, "promo", None, 1)

    # the store keeps the version (the delete only stops serving it), with who stored it,
    # when, and its lint
    store = redis.Redis.from_url(redis_server.url)
    history = store.zrange(keys.template_history("promo"), 0, -1)
    assert [v.decode() for v in history] == [version]
    meta = json.loads(store.hget(keys.template_version("promo", version), "meta"))
    assert meta["stored_by"].startswith("key:") and "test-api-key" not in meta["stored_by"]
    assert meta["lint"]["errors"] == 0
    assert set(meta["files"]) == {"manifest.toml", "template.svg", "logo.png"}
    assert store.hget(keys.templates_current(), "promo") == b"", "deleted, versions kept"


def test_concurrent_uploads_and_deletes_of_one_name(start_server, redis_server, seed):
    env = {"RENDERER_REDIS_URL": redis_server.url, **seed}
    one, two = start_server(env), start_server(env)
    colours = ["#111111", "#222222", "#333333"]

    def act(index: int) -> int:
        target = (one, two)[index % 2]
        if index % 3 == 2:
            return httpx.delete(f"{target.url}/v1/templates/promo", headers=AUTH).status_code
        return post(target, zipped(template_files("promo", colour=colours[index % 3]))).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(act, range(6)))
    assert set(statuses) <= {201, 204, 404, 503}, statuses  # 503: too busy to lint in time
    current = redis.Redis.from_url(redis_server.url).hget(keys.templates_current(), "promo")
    final = current.decode() if current else None  # None: deleted, or never stored
    wait_for_agreement(one, "promo", final, 1)
    wait_for_agreement(two, "promo", final, 1)


def test_a_purge_reaches_every_worker(start_server, seed):
    server = start_server(seed, args=("--workers", "2"))
    path = sign_url("", "tiny", "jpg", {"first_name": "Forget Me"}, kid=NEW[0], secret=NEW[1])
    url = server.url + path

    def fetch_on_each_worker() -> dict[int, str]:
        """pid -> X-Cache of a fetch on that worker (health and image on one connection)."""
        seen = {}
        while len(seen) < 2:
            health, image = on_one_connection(server, "/healthz", path)
            seen.setdefault(json.loads(health.body)["pid"], image.getheader("x-cache"))
        return seen

    fetch_on_each_worker()
    assert set(fetch_on_each_worker().values()) == {"l1"}, "both workers hold it"
    purge = httpx.delete(f"{server.url}/v1/images", params={"url": url}, headers=AUTH)
    assert purge.status_code == 204
    time.sleep(1)  # the design bound
    assert "l1" not in fetch_on_each_worker().values(), "no worker still holds it"


BROKEN = {
    "frames_abc": '[animation]\nkind = "countdown"\nframes = "abc"\nends_at = "ends"',
    "frames_inf": '[animation]\nkind = "countdown"\nframes = inf\nends_at = "ends"',
    "durations_five": '[animation]\nkind = "loop"\ndurations = 5',
    "frames_huge": '[animation]\nkind = "countdown"\nframes = 150000000\nends_at = "ends"',
}


def test_broken_templates_are_skipped_at_start(start_server, tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED_TEMPLATES / "flash_sale", folder / "flash_sale")
    for name, animation in BROKEN.items():
        (folder / name).mkdir()
        (folder / name / "template.svg").write_text(template_files(name)["template.svg"])
        manifest = MANIFEST.format(name=name, width=400, height=400).replace(
            'format = "jpg"', 'format = "gif"'
        )
        extra = '\n[fields.ends]\ntype = "datetime"\nsample = "2026-12-01T00:00:00Z"\n'
        (folder / name / "manifest.toml").write_text(manifest + extra + "\n" + animation + "\n")
    (folder / "retired").mkdir()  # the name uploads once staged under
    for path, data in template_files("retired").items():
        (folder / "retired" / path).write_text(data)
    server = start_server({"RENDERER_TEMPLATES": str(folder)})
    listing = httpx.get(f"{server.url}/v1/templates").json()
    assert [t["name"] for t in listing["templates"]] == ["flash_sale", "retired"]
    broken = {e["template"]: e["error"] for e in listing["errors"]}
    assert set(broken) == set(BROKEN)
    assert "frames must be a whole number from 1 to 120; got 'abc'" in broken["frames_abc"]
    assert "got inf" in broken["frames_inf"] and "got 150000000" in broken["frames_huge"]
    assert "durations, one per frame" in broken["durations_five"]
    replaced = post(server, zipped(template_files("retired", colour="#000000")))
    assert replaced.status_code == 201, replaced.text
