"""Concurrency: one render per key, bounded queues, time limits, several workers."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from .test_http import AT, error, signed


def burst(urls: list[str]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: httpx.get(url, timeout=60), urls))


def test_twenty_concurrent_requests_for_one_new_key_render_once(start_server):
    server = start_server()
    url = signed(server, fields={"first_name": "Twenty"}, at=AT)
    responses = burst([url] * 20)
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert server.metric("mms_renders_total") == 1


def test_overload_gives_503_with_retry_after_never_500(start_server):
    server = start_server({"RENDERER_RENDER_CONCURRENCY": "1", "RENDERER_QUEUE_LIMIT": "1"})
    urls = [signed(server, fields={"first_name": f"Burst {i}"}, at=AT) for i in range(20)]
    responses = burst(urls)
    statuses = [r.status_code for r in responses]
    assert 500 not in statuses
    assert set(statuses) == {200, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            error(response, 503, "overloaded")
    assert server.metric("mms_errors_total", kind="overloaded") == statuses.count(503)


def test_render_over_its_time_limit_is_503(start_server):
    server = start_server({"RENDERER_RENDER_TIMEOUT": "0.001"})
    response = httpx.get(signed(server, fields={"first_name": "Slow"}, at=AT))
    assert "render not done" in error(response, 503, "render_timeout")
    assert response.headers["retry-after"] == "2"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_metrics_count_every_worker(start_server):
    server = start_server(args=("--workers", "2"))
    urls = [signed(server, fields={"first_name": f"Worker {i}"}, at=AT) for i in range(12)]
    assert {r.status_code for r in burst(urls)} == {200}
    assert server.metric("mms_request_seconds_count", route="/i/{file}") == 12
    assert server.metric("mms_renders_total") == 12
    for _ in range(4):  # whichever worker answers /metrics, it counts both
        assert server.metric("mms_renders_total") == 12
