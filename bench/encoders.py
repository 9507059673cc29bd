"""Scenario 13: jpegli and mozjpeg against libjpeg-turbo, quality per byte, where installed.

Neither is a dependency: the scenario measures those of them that are importable here
(``pip install pyjpegli mozjpeg-lossless-optimization``) and says which are not. For each
still template, at 100, 250 and 500 KB, each encoder gets the same search (the highest
quality that fits at full size, 15% smaller steps when none does: ``quality.quality_only``)
on the same whole-rendered image, and is judged by the same SSIM at 400 px as scenario 8,
with the time of one encode at the quality it found. jpegli is Google's libjpeg-compatible
encoder (adaptive quantization); the mozjpeg package available is its lossless pass
(optimized Huffman tables and progressive scans over libjpeg-turbo's output): trellis
quantization has no maintained Python binding.
"""

import importlib.metadata
import time
from collections.abc import Callable
from statistics import median

from PIL import Image

from bench.inprocess import AT, unique_values
from bench.quality import BUDGETS_KB, pillow, quality_only
from renderer.core import perceptual, raster
from renderer.core.catalog import Catalog
from renderer.core.encode import flatten
from renderer.core.render import fill, plan

Encoder = Callable[[Image.Image, int], bytes]


def available() -> tuple[dict[str, Encoder], dict[str, str]]:
    """The encoders importable here by name, and what each one is (its version, or that it
    is not installed)."""
    encoders: dict[str, Encoder] = {"libjpeg-turbo (Pillow)": pillow}
    found = {"libjpeg-turbo (Pillow)": "as the service encodes"}
    try:
        import pyjpegli
    except ImportError:
        found["jpegli"] = "not installed (pip install pyjpegli)"
    else:
        encoders["jpegli"] = lambda image, quality: pyjpegli.encode(
            image.tobytes(), image.width, image.height, quality
        )
        found["jpegli"] = f"pyjpegli {importlib.metadata.version('pyjpegli')}"
    try:
        import mozjpeg_lossless_optimization as mozjpeg
    except ImportError:
        found["mozjpeg lossless"] = "not installed (pip install mozjpeg-lossless-optimization)"
    else:
        encoders["mozjpeg lossless"] = lambda image, quality: mozjpeg.optimize(
            pillow(image, quality)
        )
        version = importlib.metadata.version("mozjpeg-lossless-optimization")
        found["mozjpeg lossless"] = f"mozjpeg-lossless-optimization {version}"
    return encoders, found


def run(catalog: Catalog, quick: bool) -> dict:
    encoders, found = available()
    rows = []
    for name, template in catalog.templates.items():
        if template.animation is not None or (quick and rows):
            continue
        job = plan(template, unique_values(template, 1, salt="x")[0], format="jpg", at=AT)
        size = (template.width, template.height)
        image = flatten(raster.rasterize(fill(job).encode(), template.fetcher, *size))
        for kb in BUDGETS_KB[:1] if quick else BUDGETS_KB:
            row = {"template": name, "budget_kb": kb}
            for label, encoder in encoders.items():
                data, quality, width = quality_only(image, kb * 1000, encoder)
                scaled = image.resize((width, round(image.height * width / image.width)))
                once = image if width == image.width else scaled
                row[label] = {
                    "bytes": len(data),
                    "quality": quality,
                    "width": width,
                    "ssim": perceptual.display_ssim(image, data),
                    "ms": _encode_ms(encoder, once, quality),
                }
            rows.append(row)
    return {"encoders": found, "rows": rows}


def _encode_ms(encoder: Encoder, image: Image.Image, quality: int, repeat: int = 5) -> float:
    """The median time of one encode, in ms."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        encoder(image, quality)
        samples.append(time.perf_counter() - started)
    return median(samples) * 1000


def report(results: dict) -> list[str]:
    names = [name for name in results["encoders"] if results["rows"] and name in results["rows"][0]]
    lines = [
        "",
        "## 13. jpegli and mozjpeg against libjpeg-turbo (SSIM at 400 px; the same search)",
        "",
        "Encoders: "
        + "; ".join(f"{name}: {what}" for name, what in results["encoders"].items())
        + ".",
        "",
        "| template | budget | "
        + " | ".join(f"{n}: width, quality, SSIM, ms" for n in names)
        + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for row in results["rows"]:
        cells = [
            f"{row[n]['width']} px q{row[n]['quality']} {row[n]['ssim']:.4f}, {row[n]['ms']:.1f} ms"
            for n in names
        ]
        lines.append(f"| {row['template']} | {row['budget_kb']} KB | " + " | ".join(cells) + " |")
    return lines
