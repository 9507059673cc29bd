"""Scenario 9: PNG palettes, ours against the one we had.

Ours (``renderer/core/palette.py``): the template's colours kept exact, an octree palette
from a small copy, Floyd-Steinberg dithering, sizes predicted from the first encode. Before:
lossless, then Pillow's median cut at 256, 128, 64, 32 colours (undithered), each a new
quantization of the whole image, then 15% smaller and again; reproduced here. Both on the
same whole-rendered image. Measures: SSIM at the width a phone shows an MMS, mean CIE76 dE
after a 4x4 blur (the colour the eye sees through a dither: hue shifts show here, SSIM is
luma only), the share of the template's own-colour pixels that stay exact.
"""

import io
import time

import numpy as np
from PIL import Image, ImageCms

from bench.inprocess import AT, unique_values
from renderer.core import palette, perceptual, raster
from renderer.core.catalog import Catalog
from renderer.core.encode import encode
from renderer.core.render import fill, plan

SCALE_STEP = 0.85
_LAB = ImageCms.buildTransformFromOpenProfiles(
    ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
)


def median_cut(image: Image.Image, budget: int) -> tuple[bytes, int]:
    """The encoder we had: (data, encodes)."""
    encodes = 0
    while True:
        for colors in (None, 256, 128, 64, 32):
            shown = image if colors is None else image.quantize(colors, Image.Quantize.MEDIANCUT)
            buffer = io.BytesIO()
            shown.save(buffer, "PNG")
            encodes += 1
            if buffer.tell() <= budget:
                return buffer.getvalue(), encodes
        image = image.resize((round(image.width * SCALE_STEP), round(image.height * SCALE_STEP)))


def display_ssim(reference: Image.Image, data: bytes) -> float:
    """SSIM at the width a phone shows (a scaled encode brought to the same pixels first)."""
    size = (
        perceptual.DISPLAY_WIDTH,
        round(reference.height * perceptual.DISPLAY_WIDTH / reference.width),
    )
    with Image.open(io.BytesIO(data)) as decoded:
        seen = decoded.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return perceptual.ssim(reference.resize(size, Image.Resampling.LANCZOS), seen)


def blurred_delta_e(reference: Image.Image, data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as decoded:
        seen = decoded.convert("RGB").resize(reference.size, Image.Resampling.LANCZOS)
    pair = [
        np.asarray(ImageCms.applyTransform(i.reduce(4), _LAB), float) for i in (reference, seen)
    ]
    for lab in pair:
        lab[..., 0] *= 100 / 255
        lab[..., 1:] -= 128
    return float(np.sqrt(((pair[0] - pair[1]) ** 2).sum(-1)).mean())


def kept_exact(reference: Image.Image, data: bytes, colors: tuple) -> float | None:
    """The share of pixels in the template's own colours that the encode keeps exact (at full
    size only; None when it was scaled)."""
    with Image.open(io.BytesIO(data)) as decoded:
        if decoded.size != reference.size:
            return None
        after = np.asarray(decoded.convert("RGB"))
    before = np.asarray(reference)
    were = np.zeros(before.shape[:2], bool)
    same = np.zeros(before.shape[:2], bool)
    for colour in colors:
        here = np.all(before == colour, axis=-1)
        were |= here
        same |= here & np.all(after == colour, axis=-1)
    return float(same.sum() / were.sum()) if were.any() else None


def palettes(catalog: Catalog, quick: bool) -> list[dict]:
    rows = []
    budgets = (500,) if quick else (100, 250, 500)
    for name, template in catalog.templates.items():
        if template.animation is not None or (quick and name != "flash_sale"):
            continue
        job = plan(template, unique_values(template, 1, salt="p")[0], format="png", at=AT)
        svg = fill(job).encode()
        image = raster.rasterize(svg, template.fetcher, template.width, template.height)
        image = palette.opaque(image).convert("RGB")
        keep = palette.template_colors(template.source)
        for kb in budgets:
            started = time.perf_counter()
            ours = encode(image, "png", kb * 1000, keep=keep)
            ours_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            theirs, their_encodes = median_cut(image, kb * 1000)
            their_ms = (time.perf_counter() - started) * 1000
            rows.append(
                {
                    "template": name,
                    "budget_kb": kb,
                    **{
                        side: {
                            "bytes": len(data),
                            "ssim": display_ssim(image, data),
                            "delta_e": blurred_delta_e(image, data),
                            "kept_exact": kept_exact(image, data, keep),
                            "encodes": encodes,
                            "ms": ms,
                        }
                        for side, data, encodes, ms in (
                            ("ours", ours.data, ours.encodes, ours_ms),
                            ("median_cut", theirs, their_encodes, their_ms),
                        )
                    },
                }
            )
    return rows


def report(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## 10. PNG palettes: ours against median cut (what we had)",
        "",
        "| template | budget | ours: SSIM, dE, own colours exact, encodes, ms | "
        "median cut: SSIM, dE, own colours exact, encodes, ms |",
        "|---|---|---|---|",
    ]

    def cell(side: dict) -> str:
        exact = "scaled" if side["kept_exact"] is None else f"{side['kept_exact']:.1%}"
        return (
            f"{side['ssim']:.4f}, {side['delta_e']:.2f}, {exact}, "
            f"{side['encodes']}, {side['ms']:.0f} ms"
        )

    for row in rows:
        lines.append(
            f"| {row['template']} | {row['budget_kb']} KB | {cell(row['ours'])} | "
            f"{cell(row['median_cut'])} |"
        )
    return lines
