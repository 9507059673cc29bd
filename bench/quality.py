"""Scenario 8: the best picture per byte under tight budgets.

For each still template, at 100, 250 and 500 KB: our encoder (size and quality chosen
together by SSIM at the width a phone shows an MMS, ``renderer/core/perceptual.py``) against
the quality-only search that thumbor's and imgproxy's ``max_bytes`` do (the highest quality
that fits at full size; 15% smaller steps only when none does), reproduced here, on the same
whole-rendered image. The metric is the same SSIM for both; 1.0 is identical to the image
before encoding.
"""

import io
import time
from collections.abc import Callable

from PIL import Image

from bench.inprocess import AT, unique_values
from renderer.core import perceptual, raster
from renderer.core.catalog import Catalog
from renderer.core.encode import QualityPredictor, encode, flatten
from renderer.core.render import fill, plan

BUDGETS_KB = (100, 250, 500)


def pillow(image: Image.Image, quality: int) -> bytes:
    """libjpeg-turbo through Pillow: baseline, 4:2:0, as the service encodes."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=2)
    return buffer.getvalue()


def quality_only(
    image: Image.Image, budget: int, encoder: Callable[[Image.Image, int], bytes] = pillow
) -> tuple[bytes, int, int]:
    """thumbor/imgproxy ``max_bytes``: (data, quality, width), by ``encoder``."""
    while True:
        low, high, best = 40, 95, None
        while low <= high:
            middle = (low + high) // 2
            data = encoder(image, middle)
            if len(data) <= budget:
                best, low = (data, middle, image.width), middle + 1
            else:
                high = middle - 1
        if best:
            return best
        image = image.resize((round(image.width * 0.85), round(image.height * 0.85)))


def quality_per_byte(catalog: Catalog) -> list[dict]:
    rows = []
    for name, template in catalog.templates.items():
        if template.animation is not None:
            continue
        first, second = unique_values(template, 2, salt="q")
        images = []
        for raw in (first, second):
            job = plan(template, raw, format="jpg", at=AT)
            svg = fill(job).encode()
            size = (template.width, template.height)
            images.append(flatten(raster.rasterize(svg, template.fetcher, *size)))
        for kb in BUDGETS_KB:
            budget = kb * 1000
            predictor = QualityPredictor()
            started = time.perf_counter()
            judged = encode(images[0], "jpg", budget, predictor)
            judging_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            ours = encode(images[1], "jpg", budget, predictor)  # the stream's next image
            steady_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            theirs, their_quality, their_width = quality_only(images[1], budget)
            their_ms = (time.perf_counter() - started) * 1000
            rows.append(
                {
                    "template": name,
                    "budget_kb": kb,
                    "ours": {
                        "bytes": len(ours.data),
                        "quality": ours.quality,
                        "width": ours.width,
                        "scale": round(ours.width / template.width, 3),
                        "ssim": perceptual.display_ssim(images[1], ours.data),
                        "judging_ms": judging_ms,
                        "ms": steady_ms,
                        "encodes": ours.encodes,
                        "judging_encodes": judged.encodes,
                    },
                    "quality_only": {
                        "bytes": len(theirs),
                        "quality": their_quality,
                        "width": their_width,
                        "ssim": perceptual.display_ssim(images[1], theirs),
                        "ms": their_ms,
                    },
                }
            )
    return rows


def report(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## 8. The best picture per byte (SSIM at 400 px, the width a phone shows an MMS)",
        "",
        "| template | budget | ours: size, quality, SSIM, ms (first image: judging) | "
        "quality-only (thumbor/imgproxy `max_bytes`): size, quality, SSIM, ms | better |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        ours, theirs = row["ours"], row["quality_only"]
        gain = ours["ssim"] - theirs["ssim"]
        verdict = "ours" if gain > 1e-6 else "theirs" if gain < -1e-6 else "same"
        lines.append(
            f"| {row['template']} | {row['budget_kb']} KB | {ours['width']} px q{ours['quality']} "
            f"{ours['ssim']:.4f}, {ours['ms']:.0f} ms ({ours['judging_ms']:.0f}) | "
            f"{theirs['width']} px q{theirs['quality']} {theirs['ssim']:.4f}, "
            f"{theirs['ms']:.0f} ms | {verdict} |"
        )
    return lines
