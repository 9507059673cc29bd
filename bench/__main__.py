"""``python -m bench [--quick] [--out DIR] [--workers N]``: every scenario, with its baseline
measured in the same run; tables on stdout, and JSON, Markdown and PNG plots in ``--out``.

``--scenario campaign [--recipients 20000] [--latency 0.05]`` runs the campaign throughput
scenario alone (it takes minutes); ``--scenario enqueue --rows 10000000`` the audience
enqueue at any size.
"""

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    audience_memory,
    campaign_throughput,
    encoders,
    exports,
    hostile,
    http_load,
    http_overhead,
    inprocess,
    machine,
    palettes,
    quality,
    report,
    text_engine,
)
from renderer.core.catalog import Catalog
from renderer.settings import BUNDLED_TEMPLATES

# quick: seconds, for the test suite; full: about two minutes on two cores
SIZES = {
    "quick": {
        "renders": 3,
        "naive": 1,
        "budget_renders": 2,
        "hits": 100,
        "rounds": 1,
        "encodes": 3,
        "overhead_images": 3,
        "audience_rows": 5_000,
        "naive_frames": 5,
        "levels": (1, 4),
        "per_level": 4,
    },
    "full": {
        "renders": 40,
        "naive": 5,
        "budget_renders": 12,
        "hits": 3000,
        "rounds": 7,
        "encodes": 30,
        "overhead_images": 40,
        "audience_rows": 1_000_000,
        "naive_frames": 60,
        "levels": (1, 4, 16, 64),
        "per_level": 24,
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds; for the test suite")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers for unique renders over HTTP"
    )
    parser.add_argument(
        "--hit-workers", type=int, default=2, help="uvicorn workers for cache hits (each server)"
    )
    parser.add_argument("--scenario", choices=("all", "campaign", "enqueue"), default="all")
    parser.add_argument("--recipients", type=int, default=20_000, help="campaign scenario")
    parser.add_argument("--latency", type=float, default=0.05, help="provider's, in seconds")
    parser.add_argument("--rows", type=int, default=10_000_000, help="enqueue scenario")
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    now = datetime.now(UTC)
    if args.scenario != "all":
        return _alone(args, now)

    catalog = Catalog(BUNDLED_TEMPLATES)
    results: dict = {
        "when": f"{now:%Y-%m-%d %H:%M} UTC",
        "command": "python -m bench" + (" --quick" if args.quick else ""),
        "machine": machine.describe(),
        "unique_renders": inprocess.unique_renders(catalog, size["renders"], size["naive"]),
    }
    with tempfile.TemporaryDirectory() as scratch:
        results["cache_hits"] = http_load.cache_hits(
            args.hit_workers, size["hits"], 8, Path(scratch), size["rounds"]
        )
    results["http_unique"] = http_load.unique_renders(
        args.workers, size["levels"], size["per_level"]
    )
    results["http_overhead"] = http_overhead.run(catalog, size["overhead_images"])
    results["byte_budgets"] = inprocess.byte_budgets(catalog, size["budget_renders"])
    results["jpeg_encoders"] = inprocess.jpeg_encoders(catalog, size["encodes"])
    results["countdown_gif"] = inprocess.countdown_gif(catalog, size["naive_frames"])
    results["quality_per_byte"] = quality.quality_per_byte(catalog)
    results["other_encoders"] = encoders.run(catalog, args.quick)
    results["text_engine"] = text_engine.run(catalog, size["renders"])
    results["exports"] = exports.run(size["renders"])
    results["palettes"] = palettes.palettes(catalog, args.quick)
    results["audience"] = audience_memory.run(size["audience_rows"])
    results["hostile"] = hostile.run(catalog.get("flash_sale"))

    results["machine"]["load_at_end"] = os.getloadavg()[0]
    paths = report.write(
        results, args.out, f"{now:%Y-%m-%d-%H%M}" + ("-quick" if args.quick else "")
    )
    print(paths[1].read_text())
    print("written:", *(str(p) for p in paths), sep="\n  ")
    within = [row["within_budget"] for row in results["byte_budgets"]]
    return 0 if all(share == 1 for share in within) else 1


def _alone(args: argparse.Namespace, now: datetime) -> int:
    """One long scenario on its own, its figures in ``--out`` as JSON and Markdown."""
    results: dict = {
        "when": f"{now:%Y-%m-%d %H:%M} UTC",
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "machine": {**machine.describe(), "load_average": os.getloadavg()},
    }
    if args.scenario == "campaign":
        workers = (2,) if args.quick else (1, 2, 4)
        baseline = max(20, min(args.recipients // 10, 1000))
        found = campaign_throughput.run(args.recipients, workers, baseline, args.latency)
        text = campaign_throughput.table(found)
    else:
        found = audience_memory.run(args.rows)
        text = (
            f"## 6. Enqueue {found['rows']:,} rows: {found['rows_per_s']:,.0f} rows/s, peak RSS "
            f"{found['peak_rss_mb']:.0f} MB, Redis {found['redis_used_mb']:,.0f} MB\n\n"
            "| rows so far | peak RSS MB |\n|---|---|\n"
            + "".join(f"| {rows:,} | {mb:.0f} |\n" for rows, mb in found["peak_rss_mb_by_rows"])
        )
    results[args.scenario] = found
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{now:%Y-%m-%d-%H%M}-{args.scenario}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1))
    stem.with_suffix(".md").write_text(f"machine: {results['machine']}\n\n{text}")
    print(text)
    print("written:", stem.with_suffix(".json"), stem.with_suffix(".md"), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
