"""Prometheus metrics. With several uvicorn workers, ``serve`` sets PROMETHEUS_MULTIPROC_DIR
before any worker imports this module, so that ``/metrics`` on any worker counts them all."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Histogram(
    "mms_request_seconds",
    "HTTP request latency by route, method and status",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
STAGE = Histogram(
    "mms_render_stage_seconds",
    "Render time per stage (fill, parse, fit, composite, raster, encode, splice)",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
RENDERS = Counter("mms_renders_total", "Images rendered (cache misses that drew)", ["template"])
CACHE = Counter("mms_cache_lookups_total", "Cache lookups by tier and result", ["tier", "result"])
BYTES_OUT = Counter("mms_image_bytes_out_total", "Image bytes sent")
ENCODES = Histogram(
    "mms_encodes_per_image",
    "Encodes the byte budget took",
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 10, 12),
)
IMAGE_BYTES = Histogram(
    "mms_image_bytes",
    "Size of rendered images",
    buckets=(25e3, 50e3, 100e3, 200e3, 300e3, 400e3, 450e3, 500e3, 550e3, 600e3),
)
ERRORS = Counter("mms_errors_total", "Errors by kind", ["kind"])
MISSING_GLYPHS = Counter(
    "mms_text_missing_glyphs_total",
    "Characters of a field's value that no bundled font has, left out of the image",
    ["template", "field"],
)
REDIS_UP = Gauge(
    "mms_redis_up", "1 while Redis answers, 0 while it does not", multiprocess_mode="livemin"
)


class Tally:
    """A counter's increments added up in this process and passed on by ``flush``: the access
    log flushes with its lines (half a second after a request at most), and the metrics page
    before it answers. With several workers each ``inc`` writes a file shared by them under
    a lock, about 2 us, which a cache hit paid twice; now it pays an addition."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.pending = 0.0
        TALLIES.append(self)

    def add(self, amount: float = 1) -> None:
        self.pending += amount

    def flush(self) -> None:
        pending, self.pending = self.pending, 0.0
        if pending:
            self.counter.inc(pending)


TALLIES: list[Tally] = []
L1_HITS = Tally(CACHE.labels("l1", "hit"))
SENT_BYTES = Tally(BYTES_OUT)


def flush() -> None:
    """Pass every tally on to its counter."""
    for tally in TALLIES:
        tally.flush()


def exposition(multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The metrics page, summed over every worker process when there are several (then
    ``multiprocess_dir`` is PROMETHEUS_MULTIPROC_DIR, which prometheus-client reads itself);
    this process's tallies are flushed first."""
    flush()
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
