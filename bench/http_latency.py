"""HTTP latency and throughput of image URLs, cold (rendered) and warm (cache hits).

    .venv/bin/python bench/http_latency.py [--images 40] [--concurrency 4] [--workers 1]

Starts ``mms-renderer serve`` on a free loopback port (as an operator would, development
keys), then fetches signed URLs: first unique ones (each a render), then the same again
(each an L1 hit). Requests are bounded in count; the run stops by itself. Results are quoted
as ratios between the two phases of the same run, on this machine.
"""

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from renderer.config import DEV_SIGNING_KEYS
from renderer.signing import sign_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "http.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def phase(client: httpx.Client, urls: list[str], concurrency: int) -> tuple[list[float], float]:
    def fetch(url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        response.raise_for_status()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(fetch, urls))
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERER_")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "renderer",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=60) as client:
            for _ in range(300):
                try:
                    client.get(f"{base}/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            kid, secret = next(iter(DEV_SIGNING_KEYS.items()))
            urls = [
                sign_url(
                    base,
                    "flash_sale",
                    "jpg",
                    {"first_name": f"Bench {i}"},
                    kid=kid,
                    secret=secret,
                    at=1795000000,
                )
                for i in range(args.images)
            ]
            cold, cold_wall = phase(client, urls, args.concurrency)
            warm, warm_wall = phase(client, urls, args.concurrency)
    finally:
        server.terminate()
        server.wait(timeout=10)

    def row(name: str, latencies: list[float], wall: float) -> str:
        ordered = sorted(latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        return (
            f"| {name} | {statistics.median(latencies) * 1000:.1f} | {p95 * 1000:.1f} |"
            f" {len(latencies) / wall:.0f} |"
        )

    report = "\n".join(
        [
            f"# HTTP image latency, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}. {args.images} unique 1080x1080 `flash_sale` JPEGs, "
            f"{args.concurrency} concurrent clients, {args.workers} uvicorn worker(s), "
            "loopback.",
            "",
            "| phase | median ms | p95 ms | images/s |",
            "|---|---|---|---|",
            row("cold (render)", cold, cold_wall),
            row("warm (L1 hit)", warm, warm_wall),
            "",
            f"Warm is {statistics.median(cold) / statistics.median(warm):.0f}x faster than cold "
            f"at the median, {cold_wall / warm_wall:.0f}x in throughput.",
        ]
    )
    RESULTS.write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
