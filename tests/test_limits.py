"""Hostile templates and uploads: each refused within its bound, before the allocation it
would make, and a fresh server's memory stays within 150 MB of where it started."""

import io
import time
import tracemalloc
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bench.hostile import (
    HEAD,
    NAME,
    data_uri,
    image,
    markers,
    mask_fanout,
    nested_loops,
    pattern_fanout,
    solid_png,
    static_text,
    use_bomb,
)
from renderer.core.catalog import load_template
from renderer.core.errors import TemplateError

from .conftest import AUTH, MANIFEST, Server
from .test_upload import post, zipped

REFUSED_WITHIN = 5.0  # seconds: the bound (the isolated lint is killed after 4)
MEMORY_GROWTH = 150_000_000  # bytes of peak RSS a fresh server may gain, whatever it is sent
NOW = datetime(2026, 11, 27, tzinfo=UTC)
BIG_STRING = HEAD + "<text x='0' y='20'>{{ 'x' * 300000000 }}</text>" + NAME + "</svg>"
FRAMES = (
    MANIFEST.replace('format = "jpg"', 'format = "gif"')
    + '[fields.ends]\ntype = "datetime"\nsample = "2026-12-01T00:00:00Z"\n'
    + '[animation]\nkind = "countdown"\nends_at = "ends"\nframes = 150000000\n'
)
# Within the draw cost per drawing, but lint draws each of its 100 texts with the 9,000
# definitions parsed again: only the child's CPU limit stops it.
UNPRICED = (
    HEAD
    + "<defs>"
    + '<rect width="1" height="1"/>' * 9_000
    + "</defs>"
    + "".join(f'<text x="5" y="{4 * i}" font-size="4">t</text>' for i in range(100))
    + NAME
    + "</svg>"
)


def refused_at_load(folder) -> tuple[str, int]:
    """Why loading ``folder`` failed, and the most memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        load_template(folder)
    except TemplateError as exc:
        return str(exc), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pytest.fail("it loaded")


@pytest.mark.parametrize(
    ("svg", "manifest", "message", "most_bytes"),
    [
        (HEAD + NAME + "</svg>", FRAMES, "got 150000000", 2_000_000),
        (BIG_STRING, MANIFEST, "characters and items", 40_000_000),
        (image(data_uri("image/png", solid_png(16_000, 16_000))), MANIFEST, "Mpx", 12_000_000),
        (
            HEAD + "<g>{% for i in range(3000) %}<!--" + "-" * 1000 + "-->{% endfor %}</g></svg>",
            MANIFEST,
            "filled SVG is over 2,000,000 characters",
            12_000_000,
        ),
    ],
    ids=["frames", "string", "data-png", "filled-svg"],
)
def test_limits_come_before_the_allocation(make_template, svg, manifest, message, most_bytes):
    why, peak = refused_at_load(make_template(svg, manifest=manifest))
    assert message in why
    assert peak < most_bytes, f"{peak / 1e6:.0f} MB allocated before it was refused"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("limits") / "server.log")
    yield running
    running.stop()


def files(svg: str, manifest: str = MANIFEST, **assets: bytes) -> bytes:
    return zipped(
        {"template.svg": svg, "manifest.toml": manifest.format(name="evil", width=400, height=400)}
        | assets
    )


HOSTILE = {
    "pattern-fanout": (files(pattern_fanout(22)), "cost", "references nest"),
    "mask-fanout": (files(mask_fanout(22)), "cost", "references nest"),
    "markers": (files(markers(5_000)), "cost", "drawing it costs over"),
    "nested-loops": (files(nested_loops(4, 1_000)), "cost", "200,000 steps"),
    "use-bomb-in-data-svg": (
        files(image(data_uri("image/svg+xml", use_bomb(8).encode()))),
        "cost",
        "SVG image",
    ),
    "use-bomb-in-svg-file": (
        files(image("bomb.svg"), **{"bomb.svg": use_bomb(8).encode()}),
        "cost",
        "references nest",
    ),
    "static-text": (files(static_text(1_000_000)), "cost", "drawing it costs over"),
    "big-string": (files(BIG_STRING), "cost", "characters and items"),
    "data-png": (files(image(data_uri("image/png", solid_png(16_000, 16_000)))), "too-large", ""),
    "frames": (files(HEAD + NAME + "</svg>", FRAMES), "load", "got 150000000"),
    "unpriced": (files(UNPRICED), "cost", "work budget"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_upload_is_refused_in_time_with_a_finding(fresh, case):
    body, rule, message = HOSTILE[case]
    for _ in range(5):  # a 503 says the machine, not the template, ran out: retry, as told
        started = time.monotonic()
        response = post(fresh, body, retry_busy=False)
        took = time.monotonic() - started
        assert took < REFUSED_WITHIN, f"{case} took {took:.1f} s"
        if response.status_code != 503:
            break
        assert response.json()["error"]["code"] == "busy"
        time.sleep(float(response.headers["retry-after"]))
    assert response.status_code == 422, response.text
    finding = response.json()["error"]["lint"]["findings"][0]
    assert finding["rule"] == rule and message in finding["message"], finding


def _jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def _chunked_multipart(size: int):
    yield b'--b\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
    for _ in range(size // 65536):
        yield b"\0" * 65536
    yield b"\r\n--b--\r\n"


def _peak_rss(server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) * 1024


def test_a_fresh_servers_memory_stays_bounded_whatever_it_is_sent(start_server):
    server = start_server()
    assert httpx.get(f"{server.url}/v1/templates/flash_sale/sample.jpg").status_code == 200
    before = _peak_rss(server)
    big_asset = _jpeg(2896, 2896)  # decoded at load: about the largest image allowed
    svg = HEAD + '<image href="photo.jpg" width="400" height="400"/>' + NAME + "</svg>"
    accepted = post(server, files(svg, **{"photo.jpg": big_asset}))
    assert accepted.status_code == 201, accepted.text
    buffer = io.BytesIO()  # 18 MB as sent: stored, not deflated
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("template.svg", HEAD + NAME + "</svg>")
        archive.writestr("manifest.toml", MANIFEST.format(name="heavy", width=400, height=400))
        for i in range(2):
            archive.writestr(f"noise{i}.bin", bytes(range(256)) * 36_000)
    assert post(server, buffer.getvalue()).status_code == 201
    for case in ("big-string", "data-png", "use-bomb-in-data-svg", "static-text"):
        assert post(server, HOSTILE[case][0]).status_code == 422
    chunked = httpx.post(
        f"{server.url}/v1/templates",
        content=_chunked_multipart(25_000_000),
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert chunked.status_code == 413, "counted while it streamed, without a Content-Length"
    grown = _peak_rss(server) - before
    assert grown < MEMORY_GROWTH, f"peak RSS grew {grown / 1e6:.0f} MB"


def test_lint_waits_in_the_render_queue(start_server):
    server = start_server({"RENDERER_RENDER_CONCURRENCY": "1", "RENDERER_QUEUE_LIMIT": "1"})
    names = [t["name"] for t in httpx.get(f"{server.url}/v1/templates").json()["templates"]]
    before = _peak_rss(server)

    def lint(index: int) -> httpx.Response:
        return httpx.get(f"{server.url}/v1/templates/{names[index % len(names)]}/lint", timeout=60)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lint, range(200)))
    statuses = {a.status_code for a in answers}
    assert statuses <= {200, 503} and 503 in statuses, statuses
    for busy in (a for a in answers if a.status_code == 503):
        assert busy.headers["retry-after"] and busy.json()["error"]["code"] == "overloaded"
    assert _peak_rss(server) - before < MEMORY_GROWTH
    for name in names:  # one lint per version, kept: the rest of the asks wait for nothing
        assert _retry(lambda n=name: httpx.get(f"{server.url}/v1/templates/{n}/lint")) == 200


def _retry(ask) -> int:
    for _ in range(50):
        answer = ask()
        if answer.status_code != 503:
            return answer.status_code
        time.sleep(float(answer.headers["retry-after"]) / 10)
    return 503
