"""L2 in a real Redis that the tests start: shared between processes, and survivable."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import AUTH
from .test_http import AT, signed


def test_an_image_rendered_by_one_process_is_served_by_another(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
    one, two = start_server(env), start_server(env)
    url = signed(one, fields={"first_name": "Shared"}, at=AT)
    first = httpx.get(url)
    assert first.headers["x-cache"] == "render"
    second = httpx.get(url.replace(one.url, two.url))
    assert second.headers["x-cache"] == "l2" and second.content == first.content
    assert two.metric("mms_renders_total") == 0
    assert two.metric("mms_cache_lookups_total", tier="l2", result="hit") == 1
    assert httpx.get(f"{two.url}/healthz").json()["redis"] is True


def test_live_stock_is_shared_through_redis(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
    one, two = start_server(env), start_server(env)
    httpx.put(f"{one.url}/v1/live/stock/SKU-R", json={"count": 12}, headers=AUTH)
    response = httpx.get(f"{two.url}/v1/live/stock/SKU-R", headers=AUTH)
    assert response.json() == {"sku": "SKU-R", "count": 12}


def test_one_render_across_processes(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
    one, two = start_server(env), start_server(env)
    url = signed(one, fields={"first_name": "Stampede"}, at=AT)
    urls = [url, url.replace(one.url, two.url)] * 10
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda u: httpx.get(u, timeout=30), urls))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert one.metric("mms_renders_total") + two.metric("mms_renders_total") == 1


def test_redis_down_then_back(start_server, redis_server):
    env = {"RENDERER_REDIS_URL": redis_server.url}
    server = start_server(env)
    before = signed(server, fields={"first_name": "Before"}, at=AT)
    assert httpx.get(before).status_code == 200

    redis_server.stop()
    for name in ("During One", "During Two", "During Three"):
        response = httpx.get(signed(server, fields={"first_name": name}, at=AT), timeout=30)
        assert response.status_code == 200 and response.headers["x-cache"] == "render"
    assert httpx.get(before).headers["x-cache"] == "l1"
    assert httpx.get(f"{server.url}/healthz").json()["redis"] is False
    assert server.metric("mms_redis_up") == 0
    assert server.log().count("is unreachable") == 1, "logged once"
    assert "127.0.0.1" in server.log()

    redis_server.start()
    time.sleep(2.5)  # the backend retries Redis every 2 s
    after = signed(server, fields={"first_name": "After"}, at=AT)
    assert httpx.get(after).status_code == 200
    assert "reachable again" in server.log()
    assert server.metric("mms_redis_up") == 1
    other = start_server(env)
    response = httpx.get(after.replace(server.url, other.url))
    assert response.headers["x-cache"] == "l2", "L2 is used again"


def test_redis_password_is_not_logged(start_server, redis_server):
    url = redis_server.url.replace("redis://", "redis://:hunter2-secret@")
    server = start_server({"RENDERER_REDIS_URL": url})
    httpx.get(signed(server, at=AT))
    assert "hunter2-secret" not in server.log()
