"""Scenario 14: a campaign end to end, through 1, 2 and 4 workers, to a provider that takes
as long to answer as a real one.

Real processes: a private Redis, the render service, the sandbox provider (Twilio's API,
``--latency`` per create call, ``--no-delivery`` so that only the sending side is measured),
and ``mms-renderer worker`` processes. The workers start first; then N recipients are
enqueued, as ``campaign send`` does. Measured per run: sends/s end to end (first enqueue to
last provider call) and steady (first to last provider call), enqueue -> provider call
latency (p50, p99: with the whole audience enqueued at once, mostly the wait in the queue),
and each worker's peak resident memory (the kernel's VmHWM, read before it is stopped).

The baseline, in the same run: one worker with one provider call in flight
(``RENDERER_SEND_CONCURRENCY=1``), the shape of the old serial path (it keeps this version's
pipelined Redis work and rate-limit blocks, so it flatters the old path if anything), on
fewer recipients because it is slow. Every gate runs as in production: quiet hours, the
claim, suppression, the frequency cap, the rate limit (two senders of 1,000 mps). First
names repeat (20 of them), so images are rendered once and then served from the cache, as
with a campaign whose images do not differ per person.
"""

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

from bench.http_load import Process
from bench.stats import summary
from renderer import embedded

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Ana", "Zoë", "Li", "Omar", "Priya", "Jan", "Mia", "Kofi", "Sam", "Eva"] * 2
CAMPAIGN = """
id = "{id}"
template = "flash_sale"
body = "{{{{ first_name }}}}, 40% off today https://shop.example.com/sale"
fallback_body = "{{{{ first_name }}}}: {{{{ image_link }}}}"

[[senders]]
number = "+15005550006"
mps = 1000

[[senders]]
number = "+15005550007"
mps = 1000

[quiet_hours]
start = "00:00"
end = "23:59:59.999999"

[frequency_cap]
messages = 100
hours = 24
"""


def run(recipients: int, worker_counts: tuple[int, ...], baseline: int, latency: float) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        redis_server, url = embedded.launch(folder / "redis", persistent=False)
        service = Process(
            [sys.executable, "-m", "renderer", "serve", "--port", "{port}"],
            env={"RENDERER_REDIS_URL": url},
        )
        sandbox = Process(
            [
                sys.executable,
                "-m",
                "renderer",
                "sandbox-provider",
                "--port",
                "{port}",
                "--latency",
                str(latency),
                "--no-delivery",
            ]
        )
        try:
            env = {
                "RENDERER_PROVIDER": "sandbox",
                "RENDERER_TWILIO_BASE_URL": sandbox.url,
                "RENDERER_REDIS_URL": url,
                "RENDERER_RENDER_URL": service.url,
                "RENDERER_PUBLIC_URL": service.url,
            }
            runs = [_run(env, folder, sandbox.url, baseline, 1, "baseline", {"CONCURRENCY": 1})]
            for count in worker_counts:
                runs.append(_run(env, folder, sandbox.url, recipients, count, f"w{count}", {}))
        finally:
            sandbox.stop()
            service.stop()
            redis_server.terminate()
            redis_server.wait()
    serial = runs[0]["sends_per_s"]
    for row in runs:
        row["vs_serial"] = row["sends_per_s"] / serial
    return {"latency_ms": latency * 1000, "runs": runs}


def _run(env: dict, folder: Path, sandbox: str, recipients: int, workers: int, name: str, extra):
    cid = f"bench-{name}-{time.monotonic_ns()}"
    audience = folder / f"{cid}.csv"
    _write_audience(audience, recipients)
    toml = folder / f"{cid}.toml"
    toml.write_text(CAMPAIGN.format(id=cid))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
    environ.update(env, RENDERER_DATA_DIR=str(folder / "data"))
    environ.update({f"RENDERER_SEND_{k}": str(v) for k, v in extra.items()})
    client = redis.Redis.from_url(env["RENDERER_REDIS_URL"], decode_responses=True)
    before = len(httpx.get(f"{sandbox}/outbox.json", timeout=60).json()["messages"])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "renderer", "worker"],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(2)  # imports; the workers then wait on the stream
        started = time.time()
        subprocess.run(
            [sys.executable, "-m", "renderer", "campaign", "send", str(toml), "--audience",
             str(audience), "--no-local-worker"],
            cwd=ROOT, env=environ, check=True, capture_output=True,
        )  # fmt: skip
        counts = f"mms:{{{cid}}}:counts"
        while int(client.hget(counts, "state:accepted") or 0) < recipients:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited during {name}")
            time.sleep(0.2)
        peaks = [_peak_mb(p.pid) for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    messages = httpx.get(f"{sandbox}/outbox.json", timeout=60).json()["messages"][before:]
    calls = sorted(m["received_at"] for m in messages)
    waits = _enqueue_to_call(client, cid, messages)
    return {
        "run": name,
        "workers": workers,
        "in_flight_per_worker": extra.get("CONCURRENCY", 32),
        "recipients": recipients,
        "provider_calls": len(messages),
        "sends_per_s": len(messages) / (calls[-1] - started),
        "steady_sends_per_s": (len(messages) - 1) / (calls[-1] - calls[0]),
        "enqueue_to_call_ms": summary(waits),
        "peak_rss_mb_per_worker": max(peaks),
    }


def _enqueue_to_call(client: redis.Redis, cid: str, messages: list[dict]) -> list[float]:
    """Per message: the provider's arrival time minus the time its job entered the stream
    (the stream entry's id is that time, in ms)."""
    enqueued: dict[str, float] = {}
    last = "-"
    while entries := client.xrange(f"mms:{{{cid}}}:jobs", min=last, count=5000):
        for entry, fields in entries:
            enqueued.setdefault(fields["r"], int(entry.split("-")[0]) / 1000)
        last = "(" + entries[-1][0]
    pipe = client.pipeline(transaction=False)
    for key in enqueued:
        pipe.hget(f"mms:{{{cid}}}:r:{key}", "phone")
    phone_at = dict(zip(pipe.execute(), enqueued.values(), strict=True))
    return [m["received_at"] - phone_at[m["to"]] for m in messages]


def _write_audience(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "opt_in_at", "opt_in_source", "opt_in_wording", "first_name"])
        for i in range(rows):
            phone = f"+1212{201 + i // 10000:03d}{i % 10000:04d}"
            writer.writerow([phone, "2026-10-01", "web", "w1", NAMES[i % len(NAMES)]])


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def table(results: dict) -> str:
    lines = [
        f"## 14. Campaign throughput (provider latency {results['latency_ms']:.0f} ms)",
        "",
        "| run | workers | in flight each | recipients | sends/s | steady/s | vs serial "
        "| enqueue->call p50 / p99 ms | peak RSS per worker MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["runs"]:
        wait = row["enqueue_to_call_ms"]
        lines.append(
            f"| {row['run']} | {row['workers']} | {row['in_flight_per_worker']} | "
            f"{row['recipients']:,} | {row['sends_per_s']:.0f} | {row['steady_sends_per_s']:.0f} "
            f"| {row['vs_serial']:.1f}x | {wait['p50_ms']:.0f} / {wait['p99_ms']:.0f} | "
            f"{row['peak_rss_mb_per_worker']:.0f} |"
        )
    return "\n".join(lines) + "\n"
