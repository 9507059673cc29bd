"""``mms-renderer loadtest`` against real servers: a local ``serve`` (and a slowed one), and
small real HTTP servers written here that stall, fail or refuse on cue, so the open loop's
figures can be checked against what the server itself saw."""

import asyncio
import json
import math
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from PIL import Image

from renderer.cli import main
from renderer.core import fields
from renderer.loadtest import target
from renderer.loadtest.values import Values

from .conftest import API_KEY, ROOT, SIGNING_KEYS, free_port

KEY_ENV = {"RENDERER_SIGNING_KEYS": SIGNING_KEYS, "RENDERER_API_KEYS": API_KEY}


def loadtest(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the command in this process, with the test servers' keys; (exit code, out, err)."""
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)
    code = main(["loadtest", *args, "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def report(folder: Path) -> dict:
    (found,) = folder.glob("loadtest-*.json")
    return json.loads(found.read_text())


def test_a_mixed_run_holds_its_rate_and_shares_and_the_server_agrees(
    start_server, tmp_path, monkeypatch, capsys
):
    server = start_server()
    renders_before = server.metric("mms_renders_total")
    hits_before = server.metric("mms_cache_lookups_total", tier="l1", result="hit")
    code, out, err = loadtest(
        monkeypatch, capsys, server.url, "--template", "flash_sale", "--rate", "40",
        "--step", "5s", "--mix", "render=25,hit=75", "--hit-pool", "10", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    (step,) = report(tmp_path)["steps"]
    assert step["sent_per_s"] == pytest.approx(40, rel=0.05)  # the offered rate, held
    render, hit = step["kinds"]["render"], step["kinds"]["hit"]
    assert (render["requests"], hit["requests"]) == (50, 150)
    assert render["ok"] == 50 and hit["ok"] == 150
    assert render["x_cache"] == {"render": 50} and hit["x_cache"] == {"l1": 150}
    # the server's own counters: the run's renders, and the pool of ten the hits fetched
    assert server.metric("mms_renders_total") - renders_before == 50 + 10
    assert server.metric("mms_cache_lookups_total", tier="l1", result="hit") - hits_before == 150
    assert report(tmp_path)["server"]["renders"] == 50  # /metrics read around the run only
    histogram = HdrHistogram.decode(render["hdr"])
    assert histogram.get_total_count() == 50
    assert histogram.get_value_at_percentile(99) / 1000 == pytest.approx(
        render["latency_ms"]["p99"]
    )
    assert "render" in out and "server side" in out and "composite" in out
    plots = sorted(tmp_path.glob("loadtest-*.png"))
    assert [p.name.split("-", 5)[-1] for p in plots] == [
        "latency-over-time.png",
        "latency-vs-rate.png",
    ]
    for plot in plots:
        with Image.open(plot) as image:
            assert image.width > 500 and len(image.convert("L").getcolors(65536)) > 20


TEMPLATE = {
    "name": "probe", "format": "jpg", "version": "v1",
    "fields": {"first_name": {"type": "text", "required": True, "max_length": 40,
                              "sample": "Ana", "extreme": "Bartholomew", "live": None}},
}  # fmt: skip


class FakeDeployment:
    """A real HTTP/1.1 server (asyncio, in a thread) that lists one template and answers its
    image URLs as ``answer(index, path, attempt)`` says: ("ok" | "error" | "503" | "hang",
    seconds to hold the answer). It records every image request it saw."""

    def __init__(self, answer):
        self.answer = answer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[tuple[float, float, str]] = []  # (arrived, held, what)
        self.attempts: Counter[str] = Counter()
        self.order: dict[str, int] = {}  # each image URL's place among the first attempts
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", self.port)
        )
        ready.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _connection(self, reader, writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await self._respond(writer, path)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def _respond(self, writer, path: str) -> None:
        if path == "/v1/templates":
            body, status, extra = json.dumps({"templates": [TEMPLATE]}).encode(), 200, ""
        elif path.startswith("/i/"):
            arrived = time.monotonic()
            self.attempts[path] += 1
            index = self.order.setdefault(path, len(self.order))
            what, hold = self.answer(index, path, self.attempts[path])
            self.seen.append((arrived, hold, what))
            await asyncio.sleep(hold)
            if what == "hang":
                await asyncio.sleep(3600)
            status = {"ok": 200, "error": 500, "503": 503}[what]
            body, extra = b"image", "Retry-After: 1\r\n" if what == "503" else ""
        else:
            body, status, extra = b"{}", 404, ""
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
        )
        await writer.drain()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def fake_deployment():
    started = []

    def start(answer) -> FakeDeployment:
        started.append(FakeDeployment(answer))
        return started[-1]

    yield start
    for deployment in started:
        deployment.stop()


def stalling_at(first: int):
    """An answer that holds every image request arriving within a second of the ``first``-th
    one until that second is over."""
    stall: dict[str, float] = {}

    def answer(index: int, path: str, attempt: int) -> tuple[str, float]:
        if index == first:
            stall["until"] = time.monotonic() + 1.0
        if stall and time.monotonic() < stall["until"]:
            return "ok", stall["until"] - time.monotonic()
        return "ok", 0.0

    return answer


STALL_RUN = ("--rate", "50", "--step", "3s", "--mix", "render", "--no-metrics", "--no-plots")


def test_a_one_second_stall_is_charged_to_every_request_scheduled_during_it(
    fake_deployment, tmp_path, monkeypatch, capsys
):
    """Open loop: requests keep leaving on schedule while the server stalls, and each one's
    latency runs from its scheduled time, so the report carries the whole stall."""
    deployment = fake_deployment(stalling_at(51))  # a second into the run (0 is the check)
    code, out, err = loadtest(
        monkeypatch, capsys, deployment.url, *STALL_RUN, "--out", str(tmp_path)
    )
    assert code == 0, err
    assert "/metrics could not be read" in out
    render = report(tmp_path)["steps"][0]["kinds"]["render"]
    assert render["ok"] == 150
    holds = sorted(hold for _, hold, _ in deployment.seen[1:])
    held = [hold for hold in holds if hold > 0]
    assert len(held) >= 40  # requests kept leaving during the stall: ~50 of them at 50/s
    histogram = HdrHistogram.decode(render["hdr"])
    for percentile in (50, 75, 80, 90, 95, 99, 99.9, 100):  # each at least the server's hold
        rank = max(1, math.ceil(percentile / 100 * len(holds)))  # as HdrHistogram ranks
        server_side = holds[rank - 1]
        assert histogram.get_value_at_percentile(percentile) / 1e6 >= server_side * 0.99
    assert render["latency_ms"]["p99"] > 900  # the stall's full second, nearly


def test_requests_queued_in_the_client_during_a_stall_are_charged_too(
    fake_deployment, tmp_path, monkeypatch, capsys
):
    """With one connection, the server sees one stalled request and the rest wait in the
    client; timed from their schedule they still carry the stall (timed from when they were
    sent, as a closed loop does, all but one would look fast)."""
    deployment = fake_deployment(stalling_at(51))
    code, _, err = loadtest(
        monkeypatch, capsys, deployment.url, *STALL_RUN, "--connections", "1",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert sum(hold > 0.1 for _, hold, _ in deployment.seen) <= 2  # the server saw one stall
    render = report(tmp_path)["steps"][0]["kinds"]["render"]
    histogram = HdrHistogram.decode(render["hdr"])
    # the ~25 requests scheduled in the stall's first half waited over half a second
    assert histogram.get_value_at_percentile(100 - 100 * 20 / 150) >= 500_000 * 0.99
    assert render["latency_ms"]["p99"] > 900


def test_errors_503s_and_timeouts_are_counted_apart_and_retry_after_is_honoured_on_request(
    fake_deployment, tmp_path, monkeypatch, capsys
):
    def answer(index: int, path: str, attempt: int) -> tuple[str, float]:
        if index == 0 or attempt > 1:  # the check, and every retry
            return "ok", 0.0
        return ("ok", "error", "503", "hang")[index % 4], 0.0

    flags = ("--rate", "20", "--step", "2s", "--mix", "render", "--no-metrics", "--no-plots",
             "--timeout", "500ms")  # fmt: skip
    code, _, err = loadtest(
        monkeypatch, capsys, fake_deployment(answer).url, *flags, "--out", str(tmp_path)
    )
    assert code == 0, err
    render = report(tmp_path)["steps"][0]["kinds"]["render"]
    assert (render["ok"], render["errors"], render["503s"], render["timeouts"]) == (10, 10, 10, 10)
    assert render["statuses"] == {"200": 10, "500": 10, "503": 10, "timeout": 10}

    honoured = tmp_path / "honoured"
    code, _, err = loadtest(
        monkeypatch, capsys, fake_deployment(answer).url, *flags, "--retry-after", "honour",
        "--out", str(honoured),
    )  # fmt: skip
    assert code == 0, err
    render = report(honoured)["steps"][0]["kinds"]["render"]
    assert (render["ok"], render["503s"], render["retried"]) == (20, 0, 10)
    assert render["latency_ms"]["max"] >= 1000  # the retried ones waited Retry-After: 1


def test_a_slowed_deployment_latency_grows_under_overload_and_find_max_finds_the_knee(
    start_server, tmp_path, monkeypatch, capsys
):
    """One render at a time and an unbounded queue: an open loop above the deployment's
    capacity sees latency climb for as long as the overload lasts; find-max stops there."""
    server = start_server(
        {"RENDERER_RENDER_CONCURRENCY": "1", "RENDERER_QUEUE_LIMIT": "100000",
         "RENDERER_RENDER_TIMEOUT": "120"}
    )  # fmt: skip
    overload = tmp_path / "overload"
    code, _, err = loadtest(
        monkeypatch, capsys, server.url, "--template", "countdown_gif", "--rate", "1,16",
        "--step", "2s", "--mix", "render", "--timeout", "60s", "--out", str(overload),
    )  # fmt: skip
    assert code == 0, err
    light, heavy = (step["kinds"]["render"] for step in report(overload)["steps"])
    assert light["ok"] == 2 and heavy["ok"] == 32
    assert heavy["latency_ms"]["p99"] > 2 * light["latency_ms"]["p99"]
    p50_per_second = report(overload)["timeline"]["kinds"]["render"]["p50"]
    assert p50_per_second[3] > p50_per_second[2]  # the queue grows through the overload

    knee = tmp_path / "knee"
    code, out, err = loadtest(
        monkeypatch, capsys, server.url, "--template", "countdown_gif", "--find-max",
        "--p99", "1000ms", "--step", "1s", "--start-rate", "1", "--factor", "4",
        "--max-rate", "64", "--refine", "0", "--hit-pool", "4", "--timeout", "60s",
        "--out", str(knee),
    )  # fmt: skip
    assert code == 0, err
    result = report(knee)
    steps = {(kind, step["rate"]): step for step in result["steps"] for kind in step["kinds"]}
    for kind, found in result["find_max"].items():
        if found["rate"] is not None:  # the step it names held the target
            held = steps[(kind, found["rate"])]["kinds"][kind]
            assert held["latency_ms"]["p99"] <= 1000 and held["ok"] == held["requests"]
        if found["first_failing_rate"] is not None:  # and the one above it did not
            broke = steps[(kind, found["first_failing_rate"])]["kinds"][kind]
            p99 = broke["latency_ms"]["p99"]
            assert p99 is None or p99 > 1000 or broke["ok"] < broke["requests"]
    render, hit = result["find_max"]["render"], result["find_max"]["hit"]
    assert render["first_failing_rate"] is not None  # 16 GIFs a second: far over capacity
    assert hit["rate"] is not None and hit["rate"] > (render["rate"] or 0)
    assert "render: highest sustainable rate" in out or "render: not even" in out
    assert "hit: highest sustainable rate" in out


def test_a_campaign_prerenders_then_every_fetch_is_a_hit(
    start_server, tmp_path, monkeypatch, capsys
):
    server = start_server()
    code, _, err = loadtest(
        monkeypatch, capsys, server.url, "--template", "flash_sale", "--campaign", "40",
        "--batch-size", "10", "--burst", "1s", "--window", "2s", "--out", str(tmp_path),
        "--audience", str(ROOT / "examples" / "audience.csv"), "--no-plots",
    )  # fmt: skip
    assert code == 0, err
    burst, fetches = report(tmp_path)["steps"]
    assert burst["kinds"]["batch"]["ok"] == 4
    assert fetches["kinds"]["hit"]["ok"] == 40
    assert fetches["kinds"]["hit"]["x_cache"] == {"l1": 40}  # prerendered: no fetch rendered
    assert report(tmp_path)["server"]["renders"] == 40


def test_only_loopback_targets_unless_the_owner_says_so():
    for host in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"):
        assert target.is_loopback(host), host
    for host in ("10.0.0.1", "192.168.1.10", "172.16.0.1", "8.8.8.8", "2001:db8::1"):
        assert not target.is_loopback(host), host
    with pytest.raises(Exception, match="--i-own-this-host"):
        target.check_target("http://10.0.0.1:8000", i_own_this_host=False)
    assert target.check_target("https://10.0.0.1/", i_own_this_host=True) == "https://10.0.0.1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("http://unresolvable.invalid:8000",), "--i-own-this-host"),
        (("ftp://127.0.0.1/",), "not an http:// or https:// base URL"),
        (("{url}", "--mix", "render=abc"), "--mix 'render=abc': 'abc' is not a number"),
        (("{url}", "--mix", "renders=1"), "'renders' is not one of render, hit, batch"),
        (("{url}", "--mix", "render=0"), "at least one kind a share above 0"),
        (("{url}", "--rate", "0"), "--rate '0': each rate must be above 0"),
        (("{url}", "--rate", "fast"), "--rate 'fast': give requests per second"),
        (("{url}", "--step", "10x"), "--step '10x': give a duration such as 500ms"),
        (("{url}", "--batch-size", "0"), "--batch-size must be at least 1"),
        (("{url}", "--batch-size", "20000"), "at most 10,000 recipients"),
        (("{url}", "--max-failures", "5"), "--max-failures is a share"),
        (("{url}", "--template", "nope"), "serves no template 'nope' (it serves: "),
        (("{url}", "--campaign", "10"), "a campaign sends one template"),
        (
            ("{url}", "--template", "flash_sale", "--signing-key", "k9:wrong-secret-0123456789"),
            "refused our signature",
        ),
        (("{url}", "--signing-key", "short"), "--signing-key: give KID:SECRET"),
        (
            ("{url}", "--template", "flash_sale", "--mix", "batch", "--api-key", "wrong"),
            "refused our API key",
        ),
        (("{url}", "--audience", "missing.csv"), "cannot read the audience CSV"),
        (("{url}", "--template", "flash_sale", "--audience", "{csv}"), "no column of the audience"),
        (("http://127.0.0.1:{free}",), "cannot reach"),
    ],
)
def test_bad_input_exits_2_with_what_to_fix(server, tmp_path, monkeypatch, capsys, args, message):
    csv = tmp_path / "people.csv"
    csv.write_text("phone,nickname\n+12125550100,Ana\n")
    filled = [a.format(url=server.url, csv=csv, free=free_port()) for a in args]
    code, out, err = loadtest(monkeypatch, capsys, *filled, "--out", str(tmp_path))
    assert code == 2
    assert message in err, err
    assert "Traceback" not in err and out == ""
    assert not list(tmp_path.glob("loadtest-*.json"))


@pytest.mark.parametrize("source", ["random", "samples"])
def test_every_generated_value_set_is_one_the_templates_accept_and_none_repeats(catalog, source):
    """Checked by the core's own validation, for every bundled template (the load tester
    knows the fields only from the schema the deployment lists)."""
    rng = random.Random(7)
    for template in catalog.templates.values():
        values = Values(template.summary(), source, rng)
        made = [values.unique() for _ in range(40)]
        for raw in made:
            fields.validate(template.fields, raw)  # raises FieldErrors on a bad value
        assert len({json.dumps(raw, sort_keys=True) for raw in made}) == 40
        assert not any(template.fields[name].live for raw in made for name in raw)
    if source == "samples":  # samples and extremes, alternately, under the tag
        flash = Values(catalog.get("flash_sale").summary(), source, rng)
        first, second = flash.unique(), flash.unique()
        assert first["first_name"].startswith("Ana ~") and first["code"] == "ANA40"
        assert second["first_name"].startswith("Bartholomew") and second["code"] == "W" * 16
