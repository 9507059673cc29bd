"""Render latency per bundled template: our pipeline against the naive one, in the same run.

    make bench            (or: .venv/bin/python bench/render.py [--repeat N])

Ours: values validated, SVG filled and fitted, CairoSVG drawn straight to pixels (assets
pre-decoded at load), then the byte-budget JPEG search. Naive: what a generic image server
does with an SVG: CairoSVG ``svg2png`` of the filled template read from disk (JPEG assets
re-encoded to PNG inside CairoSVG every time), decode the PNG, then the same quality search.
Speeds are quoted as the ratio naive/ours, both measured here, on this machine.
"""

import argparse
import io
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import cairosvg
from PIL import Image

from renderer import config, fields
from renderer.catalog import Catalog
from renderer.encode import encode
from renderer.render import fill, plan, render

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
RESULTS = Path(__file__).parent / "results" / "render.md"


def naive(template, values) -> int:
    svg = fill(plan(template, values, at=AT))
    png = cairosvg.svg2png(
        bytestring=svg.encode(),
        url=str(template.folder / "template.svg"),
        unsafe=True,  # lets CairoSVG read the template's files itself, as a plain server would
        output_width=template.width,
        output_height=template.height,
    )
    image = Image.open(io.BytesIO(png))
    image.load()
    return len(encode(image, "jpg", template.budget).data)


def timed(function, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    started = time.perf_counter()
    catalog = Catalog(config.BUNDLED_TEMPLATES)
    load_ms = (time.perf_counter() - started) * 1000

    rows = []
    for name, template in catalog.templates.items():
        values = fields.example_values(template.fields, "sample")
        result = render(plan(template, values, at=AT))
        ours = timed(lambda t=template, v=values: render(plan(t, v, at=AT)), args.repeat)
        theirs = timed(lambda t=template, v=values: naive(t, v), args.repeat)
        stages = {k: v * 1000 for k, v in result.timings.items()}
        rows.append(
            (
                name,
                f"{template.width}x{template.height}",
                f"{len(result.encoded.data) / 1000:.0f} KB q{result.encoded.quality}",
                result.encoded.encodes,
                f"{stages['fill']:.0f} / {stages['raster']:.0f} / {stages['encode']:.0f}",
                statistics.median(ours) * 1000,
                statistics.median(theirs) * 1000,
            )
        )

    lines = [
        f"# Render latency, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Median of {args.repeat} renders per template "
        f"(sample values, budget 500 KB). Catalog load (5 templates): {load_ms:.0f} ms.",
        "",
        "| template | size | output | encodes | fill / raster / encode ms | ours ms | naive ms"
        " | naive / ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, size, output, encodes, stages, ours, theirs in rows:
        lines.append(
            f"| {name} | {size} | {output} | {encodes} | {stages} | {ours:.0f} | {theirs:.0f}"
            f" | {theirs / ours:.2f}x |"
        )
    report = "\n".join(lines) + "\n"
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
