"""The benchmark's outputs: a JSON of every figure, a Markdown summary, and two PNG plots."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import encoders, exports, http_overhead, palettes, quality, text_engine


def write(results: dict, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        out / f"{stem}.json",
        out / f"{stem}.md",
        out / f"{stem}-latency-cdf.png",
        out / f"{stem}-throughput.png",
        out / f"{stem}-stages.png",
    ]
    paths[0].write_text(json.dumps(results, indent=1))
    paths[1].write_text(markdown(results, [p.name for p in paths[2:]]))
    latency_cdf(results, paths[2])
    throughput(results, paths[3])
    stages(results, paths[4])
    return paths


def markdown(results: dict, plots: list[str]) -> str:
    machine = results["machine"]
    lines = [
        f"# mms-renderer benchmark, {results['when']}",
        "",
        f"`{results['command']}` on {machine['cpu']}, {machine['cores']} cores, Python "
        f"{machine['python']}, Pillow {machine['pillow']} (libjpeg-turbo "
        f"{machine['libjpeg_turbo']}), CairoSVG {machine['cairosvg']}; load average "
        f"{machine['load_at_start']:.1f} at the start, {machine['load_at_end']:.1f} at the end "
        "(other work on the machine). Ratios compare figures from this one run.",
        "",
        "## 1. Unique renders in process: layered vs naive",
        "",
        "| template | size | layered p50 / p95 ms | renders/s (1 core) | naive p50 ms"
        " | naive / layered | bare encode p50 ms | layered / bare encode | encodes/image"
        " | KB | quality |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["unique_renders"]:
        lines.append(
            f"| {row['template']} | {row['size']} | {row['layered']['p50_ms']:.1f} / "
            f"{row['layered']['p95_ms']:.1f} | {row['renders_per_s_one_core']:.0f} | "
            f"{row['naive']['p50_ms']:.0f} | **{row['naive_over_layered']:.0f}x** | "
            f"{row['bare_encode_p50_ms']:.1f} | **{row['layered_over_bare_encode']:.2f}x** | "
            f"{row['encodes_per_image']:.2f} | {row['bytes_mean'] / 1000:.0f} | "
            f"{row['quality']:.0f} |"
        )
    hits = results.get("cache_hits")
    if hits:
        ours, bare = hits["service"], hits["bare_starlette"]
        lines += [
            "",
            f"## 2. Cache hits over HTTP ({hits['workers']} workers each, {ours['generator']}, "
            f"{ours['concurrency']} connections, {hits['bytes'] / 1000:.0f} KB image)",
            "",
            "| server | req/s | p50 ms | p99 ms | CPU µs per request |",
            "|---|---|---|---|---|",
            f"| service `/i/` | {ours['req_per_s']:.0f} | {ours['p50_ms']:.2f} | "
            f"{ours['p99_ms']:.2f} | {ours['cpu_us_per_request']:.0f} |",
            f"| bare Starlette, same bytes | {bare['req_per_s']:.0f} | {bare['p50_ms']:.2f} | "
            f"{bare['p99_ms']:.2f} | {bare['cpu_us_per_request']:.0f} |",
            "",
            f"Per CPU-second the service serves **{hits['service_over_bare_per_cpu']:.0%}** of "
            f"the bare route's hits (median of {hits['rounds']} rounds: "
            + ", ".join(f"{ratio:.2f}" for ratio in hits["round_cpu_ratios"])
            + f"); by throughput {hits['service_over_bare_throughput']:.0%} (rounds: "
            + ", ".join(f"{ratio:.2f}" for ratio in hits["round_ratios"])
            + ").",
        ]
    if results.get("http_unique"):
        lines += [
            "",
            "## 3. Unique renders over HTTP (every request a new name)",
            "",
            "| workers | concurrency | requests | req/s | p50 ms | p99 ms | errors | 503s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in results["http_unique"]:
            lines.append(
                f"| {row['workers']} | {row['concurrency']} | {row['requests']} | "
                f"{row['req_per_s']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                f"{row['errors']} | {row['503s']} |"
            )
    if results.get("http_overhead"):
        lines += http_overhead.markdown(results["http_overhead"])
    lines += [
        "",
        "## 4. Byte budgets",
        "",
        "| template | budget KB | images | at or under budget | encodes (mean) | quality p50 |"
        " scaled down | largest KB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["byte_budgets"]:
        lines.append(
            f"| {row['template']} | {row['budget_kb']} | {row['images']} | "
            f"{row['within_budget']:.0%} | {row['encodes_mean']:.2f} | {row['quality_p50']:.0f} | "
            f"{row['scaled']} | {row['bytes_max'] / 1000:.0f} |"
        )
    lines += [
        "",
        "## 5. JPEG encoders (the composed flash_sale image, 4:2:0)",
        "",
        "| encoder | quality | p50 ms | KB |",
        "|---|---|---|---|",
        *(
            f"| {row['encoder']} | {row['quality']} | {row['p50_ms']:.2f} | "
            f"{row['bytes'] / 1000:.0f} |"
            for row in results["jpeg_encoders"]
        ),
    ]
    gif = results.get("countdown_gif")
    if gif:
        lines += [
            "",
            "## 7. A 60-frame 600x600 countdown GIF",
            "",
            f"Ours: {gif['frames']} frames in **{gif['ms']:.0f} ms**, {gif['kb']:.0f} KB"
            + (f" ({'; '.join(gif['notes'])})" if gif["notes"] else "")
            + f". Naive (a whole render and a palette per frame; {gif['naive_frames_measured']} "
            f"frames measured, scaled to 60): {gif['naive_ms_for_60']:.0f} ms and "
            f"{gif['naive_kb_for_60']:.0f} KB: ours is **{gif['naive_over_ours']:.0f}x** faster.",
        ]
    audience = results.get("audience")
    if audience:
        lines += [
            "",
            "## 6. Enqueuing an audience (streamed)",
            "",
            f"{audience['rows']:,} rows ({audience['csv_mb']:.0f} MB of CSV) enqueued in "
            f"{audience['seconds']:.0f} s ({audience['rows_per_s']:,.0f} rows/s); peak memory of "
            f"the enqueuing process **{audience['peak_rss_mb']:.0f} MB**; Redis holds "
            f"{audience['redis_used_mb']:.0f} MB.",
        ]
    if results.get("quality_per_byte"):
        lines += quality.report(results["quality_per_byte"])
    if results.get("other_encoders"):
        lines += encoders.report(results["other_encoders"])
    if results.get("text_engine"):
        lines += text_engine.markdown(results["text_engine"])
    if results.get("exports"):
        lines += exports.markdown(results["exports"])
    if results.get("palettes"):
        lines += palettes.report(results["palettes"])
    hostile = results.get("hostile")
    if hostile:
        lines += [
            "",
            f"## 11. Hostile templates: the worst draw the guard lets through "
            f"(cost limit {hostile['limit']:,})",
            "",
            f"Baseline: a flash_sale render (fill, draw, encode), {hostile['baseline_ms']:.0f} ms",
            "",
            "| kind | cost | draw ms | µs per unit | x baseline | far over the limit: refused in |",
            "|---|---|---|---|---|---|",
            *(
                f"| {row['kind']} | {row['cost']:,} | {row['draw_ms']:.0f} | "
                f"{row['us_per_unit']:.0f} | {row['over_baseline']:.0f}x | "
                f"{row['refused_ms']:.1f} ms ({row['refused']}) |"
                for row in hostile["kinds"]
            ),
        ]
    lines += ["", *(f"![{name}]({name})" for name in plots), ""]
    return "\n".join(lines)


def latency_cdf(results: dict, path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    layered = sorted(s for row in results["unique_renders"] for s in row["layered_samples_ms"])
    naive = sorted(s for row in results["unique_renders"] for s in row["naive_samples_ms"])
    for samples, label in ((layered, "layered"), (naive, "naive")):
        left.plot(samples, [i / len(samples) for i in range(1, len(samples) + 1)], label=label)
    left.set(
        xscale="log",
        xlabel="ms per unique render (in process)",
        ylabel="share of renders",
        title="Unique renders: layered vs naive",
    )
    left.legend()
    for row in results.get("http_unique", []):
        samples = sorted(row["samples_ms"])
        right.plot(
            samples,
            [i / len(samples) for i in range(1, len(samples) + 1)],
            label=f"concurrency {row['concurrency']}",
        )
    right.set(
        xscale="log",
        xlabel="ms per request (HTTP, unique renders)",
        title="Over HTTP by concurrency",
    )
    if results.get("http_unique"):
        right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def throughput(results: dict, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 4))
    rows = results.get("http_unique", [])
    axis.plot(
        [r["concurrency"] for r in rows],
        [r["req_per_s"] for r in rows],
        marker="o",
        label="unique renders",
    )
    hits = results.get("cache_hits")
    if hits:
        axis.axhline(
            hits["service"]["req_per_s"],
            linestyle="--",
            color="green",
            label="cache hits (service)",
        )
        axis.axhline(
            hits["bare_starlette"]["req_per_s"],
            linestyle=":",
            color="grey",
            label="bare Starlette, same bytes",
        )
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent clients",
        ylabel="requests/s",
        title="Throughput over HTTP",
    )
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def stages(results: dict, path: Path) -> None:
    """Where the time of a unique render over HTTP goes, a stacked bar per template
    (scenario 12: the mean of each stage over the same images)."""
    rows = results.get("http_overhead", [])
    names = list(dict.fromkeys(stage for row in rows for stage in row["stages_ms"]))
    figure, axis = plt.subplots(figsize=(8, 1 + 0.6 * max(1, len(rows))))
    left = [0.0] * len(rows)
    for stage in names:
        widths = [row["stages_ms"].get(stage, 0) for row in rows]
        axis.barh([row["template"] for row in rows], widths, left=left, label=stage)
        left = [start + width for start, width in zip(left, widths, strict=True)]
    axis.set(xlabel="ms, mean per stage (keep-alive, concurrency 1)", title="Where the time goes")
    axis.invert_yaxis()
    axis.legend(
        ncol=len(names) or 1, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.35)
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
