"""Scenario 9: unique renders with the text engine against CairoSVG drawing the text itself
(what the renderer did before the engine: its toy text API, no shaping, no fallback), one
after the other in the same run, on every bundled still template; and the engine on names in
other scripts.

The baseline is the same ``render`` with the engine switched off: the ``<text>`` elements are
left for CairoSVG (static layers are the same for both), with fontconfig pointed at the same
font files. It does no fitting at all, so it flatters the baseline slightly.
"""

import os
from contextlib import contextmanager

from bench.inprocess import AT, unique_values
from bench.stats import summary, timed
from renderer.core import text
from renderer.core.catalog import Catalog, Template
from renderer.core.render import plan, render
from renderer.core.text.fontset import FONTS_DIR

NAMES = {
    "latin": "Ana Lucía",
    "arabic": "محمد عبد الله",
    "cjk": "佐藤 美咲",
    "devanagari": "प्रिया शर्मा",
    "emoji": "Ana 👍🏽🇺🇸",
}


@contextmanager
def engine_off():
    """``render`` with the text engine switched off: each ``<text>`` stays for CairoSVG."""
    typeset = text.typeset
    text.typeset = lambda root, within=None: []
    try:
        yield
    finally:
        text.typeset = typeset


def cairosvg_text(template: Template, raw: dict[str, str]) -> bytes:
    """The same render with the dynamic text drawn by CairoSVG's own text API."""
    with engine_off():
        return render(plan(template, raw, at=AT)).encoded.data


def run(catalog: Catalog, renders: int) -> dict:
    os.environ.setdefault("FONTCONFIG_FILE", str(FONTS_DIR / "fonts.conf"))  # the baseline's
    rows = []
    for name, template in catalog.templates.items():
        if template.animation is not None:
            continue
        values = unique_values(template, 2 * renders + 2, salt="t")
        render(plan(template, values[0], at=AT))
        cairosvg_text(template, values[1])  # both warm
        engine, baseline = [], []
        for one, other in zip(values[2::2], values[3::2], strict=True):
            engine.append(timed(lambda t=template, v=one: render(plan(t, v, at=AT)))[0])
            baseline.append(timed(lambda t=template, v=other: cairosvg_text(t, v))[0])
        ours, theirs = summary(engine), summary(baseline)
        rows.append(
            {
                "template": name,
                "engine": ours,
                "cairosvg_text": theirs,
                "engine_over_cairosvg": ours["p50_ms"] / theirs["p50_ms"],
            }
        )
    template = catalog.get("flash_sale")
    scripts = {}
    for script, name in NAMES.items():
        samples = [
            timed(lambda n=f"{name} {i}": render(plan(template, {"first_name": n}, at=AT)))[0]
            for i in range(renders)
        ]
        scripts[script] = summary(samples)["p50_ms"]
    return {"templates": rows, "scripts_flash_sale_p50_ms": scripts}


def markdown(results: dict) -> list[str]:
    lines = [
        "",
        "## 9. Text engine: unique renders against CairoSVG's own text (same run)",
        "",
        "| template | engine p50 / p95 ms | CairoSVG text p50 / p95 ms | engine / CairoSVG |",
        "|---|---|---|---|",
    ]
    for row in results["templates"]:
        ours, theirs = row["engine"], row["cairosvg_text"]
        lines.append(
            f"| {row['template']} | {ours['p50_ms']:.1f} / {ours['p95_ms']:.1f} | "
            f"{theirs['p50_ms']:.1f} / {theirs['p95_ms']:.1f} | "
            f"**{row['engine_over_cairosvg']:.2f}x** |"
        )
    scripts = results["scripts_flash_sale_p50_ms"]
    lines += [
        "",
        "flash_sale with a name in each script, p50 ms: "
        + ", ".join(f"{script} {ms:.1f}" for script, ms in scripts.items())
        + " (CairoSVG's own text draws all but Latin as boxes).",
    ]
    return lines
