"""Scenario: design-tool exports (tests/exports/), unique renders and how much of each image
is drawn per recipient. The Figma export is also measured with its frame group kept whole
(the same SVG with ``opacity="1"`` on the group, which the frame split leaves alone: the
same picture, drawn as one dynamic run): the baseline of the split, in the same run."""

import tempfile
from pathlib import Path

from bench.inprocess import AT, unique_values
from bench.stats import summary, timed
from renderer.core.catalog import load_template, read_files
from renderer.core.render import plan, render

EXPORTS = Path(__file__).resolve().parents[1] / "tests" / "exports"


def run(renders: int) -> list[dict]:
    rows = []
    for folder in sorted(p for p in EXPORTS.iterdir() if (p / "manifest.toml").exists()):
        rows.append(_measure(folder.name, load_template(folder), renders))
        if folder.name == "figma":
            with tempfile.TemporaryDirectory() as scratch:
                kept = Path(scratch) / "figma"
                kept.mkdir()
                for name, data in read_files(folder).items():
                    (kept / name).write_bytes(data)
                svg = (kept / "template.svg").read_text()
                svg = svg.replace('<g clip-path="url(#clip0_12_34)">',
                                  '<g clip-path="url(#clip0_12_34)" opacity="1">', 1)  # fmt: skip
                (kept / "template.svg").write_text(svg)
                rows.append(_measure("figma, frame kept", load_template(kept), renders))
    return rows


def _measure(name: str, template, renders: int) -> dict:
    values = unique_values(template, renders + 1, salt="x")
    render(plan(template, values[0], format="jpg", at=AT))  # warm: fonts, static layers
    seconds = [
        timed(lambda v=v: render(plan(template, v, format="jpg", at=AT)))[0] for v in values[1:]
    ]
    return {
        "template": name,
        "layered": template.layers.layered,
        "redrawn": round(template.layers.redrawn, 3),
        "note": template.layers.note or template.layers.reason,
        "unique": summary(seconds),
    }


def markdown(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## Design-tool exports: unique renders (tests/exports, JPEG, single-threaded)",
        "",
        "| template | p50 ms | p95 ms | drawn per recipient | layering |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['template']} | {row['unique']['p50_ms']:.0f} | "
            f"{row['unique']['p95_ms']:.0f} | {row['redrawn']:.0%} | {row['note'] or ''} |"
        )
    return lines
