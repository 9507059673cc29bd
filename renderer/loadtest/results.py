"""What a run measured: per step and kind of request, counts by outcome and latency
percentiles from an HDR histogram (1 µs to an hour at 3 significant digits, so p99.9 of a
million requests is as exact as p50); a per-second timeline; the summary table.

Latency percentiles are of the answered requests (2xx and 3xx); errors, 503s and timeouts are
counted beside them, never averaged in (a fast 503 would flatter the latency).
"""

from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

from renderer.loadtest.engine import OUTCOMES, SOURCES, Recorder
from renderer.loadtest.schedule import KINDS, Plan

PERCENTILES = (50, 90, 99, 99.9)
MAX_MICROSECONDS = 3_600_000_000


def steps(recorder: Recorder, plan: Plan) -> list[dict[str, Any]]:
    rows: list[list[int]] = [[] for _ in plan.steps]
    for i in range(len(recorder)):
        rows[recorder.step[i]].append(i)
    return [step(recorder, plan, index, rows[index]) for index in range(len(plan.steps))]


def step(recorder: Recorder, plan: Plan, index: int, rows: list[int]) -> dict[str, Any]:
    """One step: the rate offered, the rate requests actually left at, how late they left,
    and each kind's outcomes and latencies."""
    spec = plan.steps[index]
    sent = sorted(recorder.sent[i] for i in rows)
    lags = sorted(recorder.sent[i] - recorder.scheduled[i] for i in rows)
    by_kind: dict[str, list[int]] = {}
    for i in rows:
        by_kind.setdefault(KINDS[recorder.kind[i]], []).append(i)
    return {
        "label": spec.label,
        "rate": spec.rate,
        "seconds": spec.seconds,
        "mix": spec.mix,
        "requests": len(rows),
        "sent_per_s": (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else None,
        "lag_ms": {
            "p50": _at(lags, 0.5) * 1000 if lags else None,
            "p99": _at(lags, 0.99) * 1000 if lags else None,
            "max": lags[-1] * 1000 if lags else None,
        },
        "kinds": {
            kind: kind_summary(recorder, found, (plan.starts[index], spec.seconds))
            for kind, found in by_kind.items()
        },
    }


def kind_summary(
    recorder: Recorder, rows: list[int], window: tuple[float, float]
) -> dict[str, Any]:
    """One kind's outcomes and latencies in one step (``window``: its start and length);
    ``ok_per_s`` counts the answers that arrived within the step (what the server kept up
    with, not what piled up to be answered later)."""
    start, seconds = window
    answered_in_step = sum(
        1
        for i in rows
        if recorder.outcome[i] == 0
        and recorder.scheduled[i] + recorder.latency[i] < start + seconds
    )
    histogram = HdrHistogram(1, MAX_MICROSECONDS, 3)
    outcomes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    retried = 0
    for i in rows:
        outcome = OUTCOMES[recorder.outcome[i]]
        outcomes[outcome] += 1
        statuses[str(recorder.status[i]) if recorder.status[i] else outcome] += 1
        retried += recorder.retries[i] > 0
        if outcome == "ok":
            sources[SOURCES[recorder.source[i]] or "-"] += 1
            microseconds = int(recorder.latency[i] * 1e6)
            histogram.record_value(min(max(microseconds, 1), MAX_MICROSECONDS))
    answered = histogram.get_total_count()
    latency = {
        f"p{p:g}": histogram.get_value_at_percentile(p) / 1000 if answered else None
        for p in PERCENTILES
    }
    latency["max"] = histogram.get_max_value() / 1000 if answered else None
    latency["mean"] = histogram.get_mean_value() / 1000 if answered else None
    return {
        "requests": len(rows),
        "ok": outcomes["ok"],
        "errors": outcomes["error"],
        "503s": outcomes["503"],
        "timeouts": outcomes["timeout"],
        "retried": retried,
        "ok_per_s": answered_in_step / seconds,
        "statuses": dict(sorted(statuses.items())),
        "x_cache": dict(sorted(sources.items())),
        "latency_ms": latency,
        "hdr": histogram.encode().decode() if answered else None,
    }


def timeline(recorder: Recorder) -> dict[str, Any]:
    """Per second of the run (by when each request was scheduled): each kind's answered
    count and p50/p99/max latency, the requests sent, and the failures."""
    seconds = int(max(recorder.scheduled, default=0)) + 1
    latencies: dict[str, list[list[float]]] = {}
    sent = [0] * seconds
    failed = {outcome: [0] * seconds for outcome in OUTCOMES[1:]}
    for i in range(len(recorder)):
        second = int(recorder.scheduled[i])
        sent[min(int(recorder.sent[i]), seconds - 1)] += 1
        outcome = OUTCOMES[recorder.outcome[i]]
        if outcome != "ok":
            failed[outcome][second] += 1
            continue
        kind = KINDS[recorder.kind[i]]
        latencies.setdefault(kind, [[] for _ in range(seconds)])[second].append(recorder.latency[i])
    kinds = {}
    for kind, per_second in latencies.items():
        ordered = [sorted(values) for values in per_second]
        kinds[kind] = {
            "ok": [len(values) for values in ordered],
            **{
                name: [_at(values, share) * 1000 if values else None for values in ordered]
                for name, share in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
            },
        }
    return {"second": list(range(seconds)), "sent": sent, "failed": failed, "kinds": kinds}


def table(step_results: list[dict[str, Any]]) -> str:
    """The summary table: a row per step and kind."""
    head = (
        f"{'step':<18}{'kind':<8}{'sent/s':>8}{'requests':>10}{'ok':>8}{'ok/s':>8}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'max ms':>9}"
        f"{'errors':>8}{'503s':>6}{'timeouts':>10}  X-Cache"
    )
    lines = [head, "-" * len(head)]
    for result in step_results:
        sent = result["sent_per_s"]
        for row, (kind, s) in enumerate(result["kinds"].items()):
            ms = s["latency_ms"]
            cells = "".join(
                f"{'-' if ms[key] is None else f'{ms[key]:.1f}':>{width}}"
                for key, width in (("p50", 9), ("p90", 9), ("p99", 9), ("p99.9", 10), ("max", 9))
            )
            sources = " ".join(f"{k} {v}" for k, v in s["x_cache"].items())
            label, rate = (
                ("", "") if row else (result["label"][:17], "-" if sent is None else f"{sent:.1f}")
            )
            lines.append(
                f"{label:<18}{kind:<8}{rate:>8}"
                f"{s['requests']:>10}{s['ok']:>8}{s['ok_per_s']:>8.1f}{cells}"
                f"{s['errors']:>8}{s['503s']:>6}{s['timeouts']:>10}  {sources}"
            )
        lag = result["lag_ms"]
        if lag["p99"] is not None and lag["p99"] > 10:
            lines.append(
                f"{'':<18}the load generator sent requests late: p99 {lag['p99']:.0f} ms, "
                f"max {lag['max']:.0f} ms (this machine is short of CPU for the rate)"
            )
    return "\n".join(lines)


def server_table(server: dict[str, Any] | None) -> str:
    """What the deployment's /metrics counted, next to the table above."""
    if server is None:
        return "server side: /metrics could not be read, so only client-side figures"
    cache = ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in server["cache"].items() if v)
    errors = ", ".join(f"{k} {v:.0f}" for k, v in server["errors"].items()) or "none"
    lines = [
        f"server side (its /metrics before and after): {server['renders']:.0f} renders; "
        f"cache lookups: {cache or 'none'}; errors: {errors}",
        f"  {'stage or route':<24}{'count':>8}{'mean ms':>9}{'~p50 ms':>9}{'~p99 ms':>9}",
    ]
    routes = [(route, h) for route, h in server["routes_ms"].items() if route != "/metrics"]
    rows = [*server["stages_ms"].items(), *routes]
    for name, h in rows:
        cells = "".join(
            f"{'-' if h[key] is None else f'{h[key]:.1f}':>9}" for key in ("mean", "p50", "p99")
        )
        lines.append(f"  {name:<24}{h['count']:>8.0f}{cells}")
    lines.append("  (~: estimated inside the server histogram's buckets)")
    return "\n".join(lines)


def _at(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
