"""One source of truth for templates: every worker and every instance serves the same
versions soon after an upload, a replace or a delete, and a purge reaches every L1."""

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from renderer.service import keys
from renderer.service.signing import sign_url
from renderer.settings import BUNDLED_TEMPLATES

from .conftest import AUTH, MANIFEST
from .test_http import AT, NEW
from .test_upload import post, template_files, zipped

PROPAGATION_SECONDS = 10  # the design bound is one second; this only stops a broken test


def served(server, tries: int = 12) -> dict[int, dict[str, str]]:
    """pid -> the versions that worker serves, asked over fresh connections (so the kernel
    hands them to every worker)."""
    seen = {}
    for _ in range(tries):
        health = httpx.get(f"{server.url}/healthz", headers={"Connection": "close"}).json()
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
    response = post(server, zipped(template_files(name, colour=colour)))
    assert response.status_code == 201, response.text
    return response.json()["version"]


def test_two_workers_serve_the_same_version_after_upload_replace_and_delete(start_server):
    server = start_server(args=("--workers", "2"))
    first = upload(server, "promo", "#ffffff")
    wait_for_agreement(server, "promo", first, 2)
    second = upload(server, "promo", "#000000")
    assert second != first
    wait_for_agreement(server, "promo", second, 2)
    url = sign_url(server.url, "promo", "png", {"first_name": "Ana"}, kid=NEW[0], secret=NEW[1])
    images = {httpx.get(url, headers={"Connection": "close"}).content for _ in range(10)}
    assert len(images) == 1, "every worker draws the new version"
    assert httpx.delete(f"{server.url}/v1/templates/promo", headers=AUTH).status_code == 204
    wait_for_agreement(server, "promo", None, 2)
    statuses = {httpx.get(url, headers={"Connection": "close"}).status_code for _ in range(10)}
    assert statuses == {404}


def test_two_instances_on_one_redis_follow_each_other(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
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
    assert meta["lint"]["errors"] == 0 and set(meta["files"]) == {"manifest.toml", "template.svg"}
    assert store.hget(keys.templates_current(), "promo") == b"", "deleted, versions kept"


def test_concurrent_uploads_and_deletes_of_one_name(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
    one, two = start_server(env), start_server(env)
    colours = ["#111111", "#222222", "#333333", "#444444"]

    def act(index: int) -> int:
        target = (one, two)[index % 2]
        if index % 3 == 2:
            return httpx.delete(f"{target.url}/v1/templates/promo", headers=AUTH).status_code
        return post(target, zipped(template_files("promo", colour=colours[index % 4]))).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(act, range(12)))
    assert set(statuses) <= {201, 204, 404}, statuses
    current = redis.Redis.from_url(redis_server.url).hget(keys.templates_current(), "promo")
    final = current.decode() or None
    wait_for_agreement(one, "promo", final, 1)
    wait_for_agreement(two, "promo", final, 1)


def test_a_purge_reaches_every_worker(start_server):
    server = start_server(args=("--workers", "2"))
    url = sign_url(
        server.url, "flash_sale", "jpg", {"first_name": "Forget Me"}, kid=NEW[0], secret=NEW[1],
        at=AT,
    )  # fmt: skip

    def fetch_on_each_worker() -> dict[int, str]:
        """pid -> X-Cache of a fetch on that worker (health and image on one connection)."""
        seen = {}
        while len(seen) < 2:
            with httpx.Client() as client:
                pid = client.get(f"{server.url}/healthz").json()["pid"]
                if pid not in seen:
                    seen[pid] = client.get(url).headers["x-cache"]
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
