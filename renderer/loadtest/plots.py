"""The run's two PNG plots, drawn with matplotlib (the ``loadtest`` extra) like the bench's:
latency percentiles against the offered rate (one point per step), and latency over time."""

from pathlib import Path
from typing import Any

COLOURS = {"render": "tab:red", "hit": "tab:green", "batch": "tab:blue"}


def write(report: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    """Both plots, or none (with the reason raised as ImportError) without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    paths = [folder / f"{stem}-latency-vs-rate.png", folder / f"{stem}-latency-over-time.png"]
    latency_vs_rate(report, paths[0])
    latency_over_time(report, paths[1])
    return paths


def latency_vs_rate(report: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    figure, axis = plt.subplots(figsize=(8, 5))
    for kind in COLOURS:
        points = sorted(
            (
                (step["rate"], step["kinds"][kind])
                for step in report["steps"]
                if kind in step["kinds"] and step["kinds"][kind]["ok"]
            ),
            key=lambda point: point[0],
        )
        if not points:
            continue
        rates = [rate for rate, _ in points]
        for key, style, marker in (("p50", "--", "v"), ("p99", "-", "o"), ("max", ":", "^")):
            axis.plot(
                rates,
                [summary["latency_ms"][key] for _, summary in points],
                style,
                marker=marker,
                color=COLOURS[kind],
                label=f"{kind} {key}",
            )
    target = report.get("options", {}).get("p99_ms")
    if target:
        axis.axhline(target, color="grey", linewidth=1, label=f"p99 target {target:g} ms")
    for kind, found in (report.get("find_max") or {}).items():
        if found.get("rate"):
            axis.axvline(
                found["rate"],
                color=COLOURS[kind],
                alpha=0.4,
                linewidth=4,
                label=f"{kind}: highest sustainable {found['rate']:.0f}/s",
            )
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="offered requests/s, all kinds (open loop)",
        ylabel="latency ms, from the scheduled send",
        title=f"Latency against offered rate: {report['target']}",
    )
    rates = sorted({step["rate"] for step in report["steps"]})
    axis.set_xticks(rates, [f"{rate:.3g}" for rate in rates], fontsize=8)
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.yaxis.set_major_formatter(ScalarFormatter())
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def latency_over_time(report: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    line = report["timeline"]
    seconds = line["second"]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    for kind, series in line["kinds"].items():
        for key, style in (("p50", "--"), ("p99", "-"), ("max", ":")):
            top.plot(seconds, series[key], style, color=COLOURS.get(kind), label=f"{kind} {key}")
    top.set(yscale="log", ylabel="latency ms", title="Latency over time (by scheduled second)")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8, ncol=3)
    answered = [sum(s["ok"][i] for s in line["kinds"].values()) for i in range(len(seconds))]
    bottom.plot(
        seconds,
        answered,
        color="tab:green",
        linewidth=3,
        alpha=0.6,
        label="answered ok/s (by scheduled second)",
    )
    bottom.plot(seconds, line["sent"], "--", color="black", label="sent/s")
    base = [0] * len(seconds)
    for outcome, colour in (("error", "tab:red"), ("503", "tab:orange"), ("timeout", "tab:purple")):
        counts = line["failed"][outcome]
        if any(counts):
            bottom.bar(
                seconds,
                counts,
                bottom=base,
                color=colour,
                width=1.0,
                align="edge",
                label=f"{outcome}s/s",
            )
            base = [b + c for b, c in zip(base, counts, strict=True)]
    for step in report["steps"][1:]:
        for axis in (top, bottom):
            axis.axvline(step["start"], color="grey", linewidth=0.8, alpha=0.6)
    bottom.set(xlabel="seconds since the start", ylabel="requests/s", ylim=(0, None))
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=8, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
