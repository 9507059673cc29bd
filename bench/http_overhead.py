"""Scenario 12: what HTTP adds to a unique render, against the floor of one JPEG encode.

For each still template the same value sets are rendered three ways, one image after the
other so that all three see the same moment of a noisy machine: fetched from the service
over one keep-alive connection (concurrency 1, every URL new, so every request renders),
rendered in this process (``render(plan(...))``), and the composed image encoded once by
Pillow at the quality the render chose (the floor). The ratios are taken between medians of
the same run. Whether the service's bytes equal this process's is reported too: if they did
not, the two would not be the same work.
"""

import re
import socket
import time
from datetime import UTC, datetime
from statistics import fmean, median
from urllib.parse import urlsplit

from bench.http_load import AT, service
from bench.inprocess import bare_encode, unique_values
from renderer.core.catalog import Catalog
from renderer.core.render import plan, render
from renderer.service.signing import sign_url
from renderer.settings import DEV_SIGNING_KEYS

STAGES = ("fill", "parse", "fit", "composite", "raster", "encode", "splice")  # render.py's
LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


class KeepAlive:
    """One HTTP/1.1 connection, reused: GET a path, time it to the last byte."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host = parts.hostname
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def get(self, path: str) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.file.readline()
        length = LENGTH.search(head)
        body = self.file.read(int(length.group(1)) if length else 0)
        return time.perf_counter() - started, int(head.split(b" ", 2)[1]), body

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def run(catalog: Catalog, images: int) -> list[dict]:
    """Per still template: in-process render, HTTP fetch and one bare encode, p50s and
    ratios, over ``images`` unique images each."""
    kid, secret = next(iter(DEV_SIGNING_KEYS.items()))
    at = datetime.fromtimestamp(AT, UTC)
    rows = []
    with service(1) as ours:
        client = KeepAlive(ours.url)
        try:
            for name, template in catalog.templates.items():
                if template.animation is not None:
                    continue

                def url(raw: dict[str, str], name: str = name) -> str:
                    signed = sign_url(ours.url, name, "jpg", raw, kid=kid, secret=secret, at=AT)
                    return signed.removeprefix(ours.url)

                values = [  # a live field comes from its feed, never from a URL
                    {k: v for k, v in raw.items() if not template.fields[k].live}
                    for raw in unique_values(template, images + 1, salt="h")
                ]
                client.get(url(values[0]))  # both sides' first image searches for its quality
                render(plan(template, values[0], at=at))
                http, inprocess, encode, stages, same, errors = [], [], [], [], 0, 0
                for raw in values[1:]:
                    seconds, status, body = client.get(url(raw))
                    errors += status != 200
                    http.append(seconds)
                    started = time.perf_counter()
                    result = render(plan(template, raw, at=at))
                    inprocess.append(time.perf_counter() - started)
                    stages.append(result.timings)
                    same += body == result.encoded.data
                    encode.append(bare_encode(template, raw, result.encoded.quality or 85))
                rows.append(_row(name, http, inprocess, encode, same, errors))
                rows[-1]["stages_ms"] = where_the_time_goes(stages, http, inprocess)
        finally:
            client.close()
    return rows


def _row(name: str, http, inprocess, encode, same: int, errors: int) -> dict:
    http_ms, inprocess_ms, encode_ms = (median(s) * 1000 for s in (http, inprocess, encode))
    return {
        "template": name,
        "images": len(http),
        "http_p50_ms": http_ms,
        "inprocess_p50_ms": inprocess_ms,
        "bare_encode_p50_ms": encode_ms,
        "http_over_encode": http_ms / encode_ms,
        "inprocess_over_encode": inprocess_ms / encode_ms,
        "http_minus_inprocess_ms": http_ms - inprocess_ms,
        "same_bytes": same / len(http),
        "errors": errors,
    }


def where_the_time_goes(
    timings: list[dict[str, float]], http: list[float], inprocess: list[float]
) -> dict[str, float]:
    """The mean of each render stage in ms (means, unlike p50s, add up); "other" is what a
    render in process took beyond its stages (planning), "HTTP" what a fetch took beyond
    the render in process."""
    names = [name for name in STAGES if any(name in t for t in timings)]
    stages = {name: fmean(t.get(name, 0) for t in timings) * 1000 for name in names}
    stages["other"] = max(0.0, fmean(inprocess) * 1000 - sum(stages.values()))
    stages["HTTP"] = max(0.0, (fmean(http) - fmean(inprocess)) * 1000)
    return stages


def markdown(rows: list[dict]) -> list[str]:
    return [
        "",
        "## 12. A unique render over HTTP against one encode (keep-alive, concurrency 1)",
        "",
        "Per image, one after the other: fetched from the service (1 worker), rendered in this "
        "process, and the same composed image encoded once by Pillow at the same quality.",
        "",
        "| template | images | HTTP p50 ms | in process p50 ms | one encode p50 ms"
        " | HTTP / encode | in process / encode | HTTP - in process ms | same bytes |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['template']} | {r['images']} | {r['http_p50_ms']:.2f} | "
            f"{r['inprocess_p50_ms']:.2f} | {r['bare_encode_p50_ms']:.2f} | "
            f"**{r['http_over_encode']:.2f}x** | {r['inprocess_over_encode']:.2f}x | "
            f"{r['http_minus_inprocess_ms']:.2f} | {r['same_bytes']:.0%} |"
            for r in rows
        ),
        "",
        "Where the time goes (mean ms per stage; the means add up): "
        + "; ".join(
            f"{r['template']}: "
            + ", ".join(f"{stage} {ms:.2f}" for stage, ms in r["stages_ms"].items())
            for r in rows
        )
        + ".",
    ]
