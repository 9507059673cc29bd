"""The deployment under test: which hosts may be loaded, what templates it serves, and what
its own ``/metrics`` say happened during a run."""

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from renderer.core.errors import RendererError

# Prometheus families read from /metrics; their differences over a run are reported
FAMILIES = (
    "mms_renders_total",
    "mms_cache_lookups_total",
    "mms_render_stage_seconds",
    "mms_request_seconds",
    "mms_errors_total",
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def check_target(base_url: str, i_own_this_host: bool) -> str:
    """The base URL without a trailing slash; RendererError unless it is http(s) and either
    every address of its host is loopback or the user said they own the host."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RendererError(f"{base_url!r} is not an http:// or https:// base URL")
    if parts.query or parts.fragment:
        raise RendererError(f"{base_url!r}: give the base URL only, without ? or #")
    if not i_own_this_host and not is_loopback(parts.hostname):
        raise RendererError(
            f"{parts.hostname} is not a loopback address: load-test only a deployment you own, "
            "and say so with --i-own-this-host"
        )
    return base_url.rstrip("/")


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0].split("%")[0] for info in found}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def templates(base_url: str, names: list[str]) -> list[dict[str, Any]]:
    """The field schemas of the chosen templates (all when ``names`` is empty), as the
    deployment itself lists them."""
    try:
        response = httpx.get(f"{base_url}/v1/templates", timeout=30)
    except httpx.HTTPError as exc:
        raise RendererError(f"cannot reach {base_url}: {exc}") from None
    if response.status_code != 200:
        raise RendererError(f"GET {base_url}/v1/templates answered {response.status_code}")
    try:
        listed = {t["name"]: t for t in response.json()["templates"]}
    except (ValueError, KeyError, TypeError):
        raise RendererError(f"{base_url}/v1/templates is not an mms-renderer listing") from None
    unknown = [n for n in names if n not in listed]
    if unknown:
        raise RendererError(
            f"{base_url} serves no template {unknown[0]!r} (it serves: {', '.join(listed)})"
        )
    chosen = [listed[n] for n in names] if names else list(listed.values())
    if not chosen:
        raise RendererError(f"{base_url} serves no templates")
    return chosen


def scrape(base_url: str) -> Samples | None:
    """The samples of the families above, or None when /metrics cannot be read."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        response = httpx.get(f"{base_url}/metrics", timeout=10)
        if response.status_code != 200:
            return None
        families = list(text_string_to_metric_families(response.text))
    except (httpx.HTTPError, ValueError):
        return None
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        if family.name in FAMILIES or f"{family.name}_total" in FAMILIES
        for sample in family.samples
    }


def server_side(before: Samples | None, after: Samples | None) -> dict[str, Any] | None:
    """What the deployment counted during the run: renders, cache lookups by tier, errors,
    and per render stage and route the mean and estimated p50/p99 (from histogram buckets)."""
    if before is None or after is None:
        return None
    delta = {key: value - before.get(key, 0.0) for key, value in after.items()}

    def total(name: str, **labels: str) -> float:
        return sum(
            v for (n, ls), v in delta.items() if n == name and labels.items() <= dict(ls).items()
        )

    stages = {dict(ls)["stage"] for (n, ls) in delta if n == "mms_render_stage_seconds_count"}
    routes = {
        dict(ls)["route"]
        for (n, ls), v in delta.items()
        if n == "mms_request_seconds_count" and v > 0
    }
    return {
        "renders": total("mms_renders_total"),
        "cache": {
            f"{dict(ls)['tier']}_{dict(ls)['result']}": v
            for (n, ls), v in delta.items()
            if n == "mms_cache_lookups_total"
        },
        "errors": {
            dict(ls)["kind"]: v for (n, ls), v in delta.items() if n == "mms_errors_total" and v
        },
        "stages_ms": {
            stage: _histogram(delta, "mms_render_stage_seconds", "stage", stage)
            for stage in sorted(stages)
        },
        "routes_ms": {
            route: _histogram(delta, "mms_request_seconds", "route", route)
            for route in sorted(routes)
        },
    }


def _histogram(delta: Samples, name: str, label: str, value: str) -> dict[str, float | None]:
    """Count, mean and estimated p50/p99 in ms of one histogram's change (summed over its
    other labels), interpolating inside a bucket as Prometheus's histogram_quantile does."""
    buckets: dict[float, float] = {}
    count = total = 0.0
    for (sample, labels), v in delta.items():
        given = dict(labels)
        if given.get(label) != value:
            continue
        if sample == f"{name}_bucket":
            bound = float(given["le"])
            buckets[bound] = buckets.get(bound, 0.0) + v
        elif sample == f"{name}_count":
            count += v
        elif sample == f"{name}_sum":
            total += v
    return {
        "count": count,
        "mean": total / count * 1000 if count else None,
        "p50": _quantile(buckets, 0.50),
        "p99": _quantile(buckets, 0.99),
    }


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    bounds = sorted(buckets)
    if not bounds or not buckets[bounds[-1]]:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower * 1000  # over the last finite bucket: its bound, as Prometheus
            share = (rank - below) / (buckets[bound] - below) if buckets[bound] > below else 1
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, buckets[bound]
    return None
