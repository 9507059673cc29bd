"""``mms-renderer loadtest URL``: the command's flags, and a run from start to report."""

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  mms-renderer loadtest http://127.0.0.1:8000 --template flash_sale --rate 50 --duration 30s \\
      --mix render=20,hit=75,batch=5
  mms-renderer loadtest http://127.0.0.1:8000 --rate 20,40,80,160 --step 10s
  mms-renderer loadtest http://127.0.0.1:8000 --find-max --p99 500ms
  mms-renderer loadtest http://127.0.0.1:8000 --campaign 2000 --burst 10s --window 60s
"""


def add_command(commands) -> None:
    """The ``loadtest`` subcommand and its flags."""
    parser = commands.add_parser(
        "loadtest",
        help="open-loop load test of a deployment (local, or one you own)",
        description=__doc__.splitlines()[0].replace("``", ""),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the deployment's base URL, such as http://127.0.0.1:8000")
    parser.add_argument(
        "--i-own-this-host",
        action="store_true",
        help="allow a target that is not a loopback address (only a deployment you own)",
    )
    _traffic_flags(parser.add_argument_group("traffic"))
    _load_flags(parser.add_argument_group("load"))
    _find_max_flags(parser.add_argument_group("find-max"))
    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        type=Path,
        default=Path("loadtest-results"),
        help="folder for the JSON and the plots (default loadtest-results/)",
    )
    output.add_argument("--no-metrics", action="store_true", help="do not read /metrics")
    output.add_argument("--no-plots", action="store_true")
    output.add_argument("--quiet", action="store_true", help="no progress line")
    parser.set_defaults(command=run)


def _traffic_flags(traffic) -> None:
    traffic.add_argument(
        "--template",
        action="append",
        default=[],
        metavar="NAME",
        help="a template to request (repeat; default: all the deployment serves)",
    )
    traffic.add_argument(
        "--values",
        choices=("samples", "random"),
        default="random",
        help="field values: the manifests' samples and extremes, or random per field type",
    )
    traffic.add_argument(
        "--audience",
        type=Path,
        metavar="CSV",
        help="take field values from an audience CSV's columns instead",
    )
    traffic.add_argument(
        "--mix",
        default="render=20,hit=80",
        help="shares of unique renders, hits and prerender batches (default render=20,hit=80)",
    )
    traffic.add_argument("--batch-size", type=int, default=100, help="recipients per batch")
    traffic.add_argument(
        "--hit-pool",
        type=int,
        default=50,
        help="images rendered before the run for hits to fetch (default 50)",
    )
    traffic.add_argument(
        "--signing-key",
        metavar="KID:SECRET",
        help="the deployment's signing key (default: RENDERER_SIGNING_KEYS)",
    )
    traffic.add_argument("--api-key", help="for batches (default: RENDERER_API_KEYS's first)")
    traffic.add_argument(
        "--at", type=int, help="the URLs' pinned time, unix seconds (default: now)"
    )
    traffic.add_argument("--seed", type=int, help="repeat a run's choices (values, Poisson gaps)")


def _load_flags(load) -> None:
    load.add_argument("--rate", default="20", help="requests/s; several (10,20,40) are steps")
    load.add_argument("--step", default="10s", help="how long each rate is held (default 10s)")
    load.add_argument("--poisson", action="store_true", help="Poisson arrivals, not evenly spaced")
    load.add_argument(
        "--campaign",
        type=int,
        metavar="RECIPIENTS",
        help="a campaign's shape: prerender batches, then one fetch per recipient",
    )
    load.add_argument("--burst", default="10s", help="campaign: the prerender burst's length")
    load.add_argument("--window", default="60s", help="campaign: the send window's length")
    load.add_argument(
        "--duration", help="stop scheduling after this (default: the schedule; find-max 600s)"
    )
    load.add_argument("--requests", type=int, help="stop after this many requests")
    load.add_argument("--timeout", default="10s", help="per attempt (default 10s)")
    load.add_argument("--connections", type=int, default=256, help="open at once, at most")
    load.add_argument(
        "--retry-after",
        choices=("ignore", "honour"),
        default="ignore",
        help="on a 503: count it (ignore), or wait Retry-After and retry (honour)",
    )


def _find_max_flags(search) -> None:
    search.add_argument(
        "--find-max",
        action="store_true",
        help="find the highest sustainable rate, for renders and hits apart",
    )
    search.add_argument("--p99", default="500ms", help="the p99 latency a rate must hold")
    search.add_argument("--start-rate", type=float, default=10.0)
    search.add_argument("--factor", type=float, default=2.0, help="rate multiplier per step")
    search.add_argument("--max-rate", type=float, default=10_000.0)
    search.add_argument("--refine", type=int, default=2, help="bisections after the first failure")
    search.add_argument(
        "--max-failures",
        type=float,
        default=0.01,
        help="share of errors, 503s and timeouts a step may have (default 0.01)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from renderer.loadtest import results, setup, target
    except ImportError as exc:
        raise ValueError(
            f"loadtest needs {exc.name}: pip install 'mms-renderer[loadtest]'"
        ) from None

    config = setup.configure(args)
    started = datetime.now(UTC)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        report = runner.run(setup.execute(config))
    after = target.scrape(config.base_url) if config.metrics else None
    report.update(
        {
            "tool": "mms-renderer loadtest",
            "command": " ".join(["mms-renderer", "loadtest", *sys.argv[2:]]),
            "target": config.base_url,
            "started": started.isoformat(timespec="seconds"),
            "client": {
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "templates": {t["name"]: t["version"] for t in config.templates},
            "options": config.options_report,
            "server": target.server_side(config.metrics_before, after),
        }
    )
    print(results.table(report["steps"]))
    print(results.server_table(report["server"]))
    for line in report.get("find_max_lines", []):
        print(line)
    for path in _write(report, args, started):
        print(f"wrote {path}")
    return 0


def _write(report: dict[str, Any], args: argparse.Namespace, started: datetime) -> list[Path]:
    from renderer.loadtest import plots

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"loadtest-{started:%Y-%m-%d-%H%M%S}"
    paths = [args.out / f"{stem}.json"]
    paths[0].write_text(json.dumps(report, indent=1))
    if not args.no_plots:
        try:
            paths += plots.write(report, args.out, stem)
        except ImportError:
            print(
                "no plots: matplotlib is missing (pip install 'mms-renderer[loadtest]')",
                file=sys.stderr,
            )
    return paths


def _loop_factory():
    """uvloop where it is installed (the service's own dependency): its timers and sockets
    leave the generator more of the CPU."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
