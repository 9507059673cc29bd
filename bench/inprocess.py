"""Scenarios 1 and 4, in this process: unique renders layered vs naive, and byte budgets.

Naive is what a generic image server does with an SVG template: fill it, have CairoSVG render
the whole document to PNG (reading the photo itself), decode the PNG, then bisect the JPEG
quality. Layered is ``renderer.core.render``. Both run here, one after the other, single-threaded.
"""

import io
import time
from datetime import UTC, datetime

import cairosvg
from PIL import Image

from bench.stats import percentile, summary, timed
from renderer.core import compose, fields
from renderer.core.catalog import Catalog, Template
from renderer.core.encode import encode
from renderer.core.render import fill, plan, render

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
BUDGETS_KB = (100, 250, 450, 600)


def unique_values(template: Template, count: int, salt: str = "") -> list[dict[str, str]]:
    """``count`` value sets that differ in the most personal field, as recipients do."""
    base = fields.example_values(template.fields, "sample")
    name = (
        "first_name"
        if "first_name" in template.fields
        else next(n for n, f in template.fields.items() if f.type == "text")
    )
    return [{**base, name: f"{base.get(name, 'Ana')[:20]} {salt}{i}"} for i in range(count)]


def naive(template: Template, raw: dict[str, str]) -> bytes:
    job = plan(template, raw, at=AT)
    png = cairosvg.svg2png(
        bytestring=fill(job).encode(),
        url=str(template.folder / "template.svg"),
        unsafe=True,  # a generic server lets CairoSVG read the template's files itself
        output_width=template.width,
        output_height=template.height,
    )
    image = Image.open(io.BytesIO(png))
    image.load()
    return encode(image, "jpg", job.budget).data


def composed(template: Template, raw: dict[str, str]) -> Image.Image:
    job = plan(template, raw, at=AT)
    root = template.parse(template.fill(job.values, job.now))
    compose.fit_dynamic(template.layers, root)
    size = (template.width, template.height)
    return compose.compose(template.layers, root, template.fetcher, size).convert("RGB")


def bare_encode(template: Template, raw: dict[str, str], quality: int) -> float:
    """One plain Pillow JPEG encode of the same composed image: the floor."""
    image = composed(template, raw)
    seconds, _ = timed(lambda: image.save(io.BytesIO(), "JPEG", quality=quality, subsampling=2))
    return seconds


def jpeg_encoders(catalog: Catalog, repeat: int) -> list[dict]:
    """Encoders and settings on one composed 1080x1080 image at q85 and q95, 4:2:0."""
    template = catalog.get("flash_sale")
    image = composed(template, unique_values(template, 1, "e")[0])
    variants = {
        "pillow": lambda q: _pillow(image, quality=q, subsampling=2),
        "pillow optimize": lambda q: _pillow(image, quality=q, subsampling=2, optimize=True),
        "pillow progressive": lambda q: _pillow(image, quality=q, subsampling=2, progressive=True),
    }
    try:
        import numpy
        import simplejpeg
    except ImportError:  # measured only where it is installed; not a dependency
        pass
    else:
        variants["simplejpeg (incl. array)"] = lambda q: simplejpeg.encode_jpeg(
            numpy.asarray(image), quality=q, colorspace="RGB", colorsubsampling="420"
        )
    rows = []
    for name, encode_with in variants.items():
        for quality in (85, 95):
            samples = [timed(lambda e=encode_with, q=quality: e(q)) for _ in range(repeat)]
            rows.append(
                {
                    "encoder": name,
                    "quality": quality,
                    "p50_ms": percentile([seconds for seconds, _ in samples], 0.5) * 1000,
                    "bytes": len(samples[0][1]),
                }
            )
    return rows


def _pillow(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def unique_renders(catalog: Catalog, renders: int, naive_renders: int) -> list[dict]:
    rows = []
    for name, template in catalog.templates.items():
        if template.animation is not None:
            continue  # scenario 7
        values = unique_values(template, renders + 1, salt="u")
        render(plan(template, values[0], at=AT))  # the quality memory's first, searching image
        layered, results = [], []
        for raw in values[1:]:
            seconds, result = timed(lambda t=template, raw=raw: render(plan(t, raw, at=AT)))
            layered.append(seconds)
            results.append(result)
        naive_seconds = [
            timed(lambda t=template, raw=raw: naive(t, raw))[0] for raw in values[:naive_renders]
        ]
        floor = [
            bare_encode(template, raw, results[i].encoded.quality or 85)
            for i, raw in enumerate(values[1 : 1 + min(renders, 10)])
        ]
        layered_stats, naive_stats = summary(layered), summary(naive_seconds)
        rows.append(
            {
                "template": name,
                "size": f"{template.width}x{template.height}",
                "layered": layered_stats,
                "naive": naive_stats,
                "bare_encode_p50_ms": percentile(floor, 0.5) * 1000,
                "renders_per_s_one_core": 1000 / layered_stats["mean_ms"],
                "encodes_per_image": sum(r.encoded.encodes for r in results) / len(results),
                "bytes_mean": sum(len(r.encoded.data) for r in results) / len(results),
                "quality": percentile([r.encoded.quality or 0 for r in results], 0.5),
                "naive_over_layered": naive_stats["p50_ms"] / layered_stats["p50_ms"],
                "layered_over_bare_encode": layered_stats["p50_ms"]
                / (percentile(floor, 0.5) * 1000),
                "layered_samples_ms": [s * 1000 for s in layered],
                "naive_samples_ms": [s * 1000 for s in naive_seconds],
            }
        )
    return rows


def byte_budgets(catalog: Catalog, renders: int) -> list[dict]:
    rows = []
    for name, template in catalog.templates.items():
        if template.animation is not None:
            continue
        for kb in BUDGETS_KB:
            budget = kb * 1000
            results = [
                render(plan(template, raw, budget=budget, at=AT)).encoded
                for raw in unique_values(template, renders, salt=f"b{kb}-")
            ]
            rows.append(
                {
                    "template": name,
                    "budget_kb": kb,
                    "images": len(results),
                    "within_budget": sum(len(r.data) <= budget for r in results) / len(results),
                    "encodes_mean": sum(r.encodes for r in results) / len(results),
                    "quality_p50": percentile([r.quality or 0 for r in results], 0.5),
                    "scaled": sum(r.width < template.width for r in results),
                    "bytes_max": max(len(r.data) for r in results),
                }
            )
    return rows


def countdown_gif(catalog: Catalog, naive_frames: int) -> dict:
    """A 60-frame countdown GIF, ours (layered frames, one shared palette, only the changed
    box stored) against the naive way: every frame a whole CairoSVG render and a palette of
    its own (so Pillow must store whole frames), timed per frame and scaled to 60."""
    from datetime import timedelta

    from renderer.core import raster

    template = catalog.get("countdown_gif")
    values = {"first_name": "Ana", "ends_at": "2026-11-28T21:00:00", "tz": "America/New_York"}
    seconds, result = timed(lambda: render(plan(template, values, at=AT)))
    frames = []
    started = time.perf_counter()
    for i in range(naive_frames):
        job = plan(template, values, format="png", at=AT + timedelta(seconds=i))
        image = raster.rasterize(fill(job).encode(), template.fetcher, 600, 600)
        frames.append(image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=1000, loop=0)
    naive_seconds = (time.perf_counter() - started) / naive_frames * 60
    naive_bytes = len(buffer.getvalue()) / naive_frames * 60
    encoded = result.encoded
    return {
        "frames": encoded.frames,
        "ms": seconds * 1000,
        "kb": len(encoded.data) / 1000,
        "notes": list(encoded.notes),
        "naive_ms_for_60": naive_seconds * 1000,
        "naive_kb_for_60": naive_bytes / 1000,
        "naive_frames_measured": naive_frames,
        "naive_over_ours": naive_seconds / seconds,
    }
