"""A frame group around everything (Figma's ``<g clip-path>``) is taken apart for layering
only when the picture provably stays the same, and the template info says what it did, why
not, and how much of the image is drawn per recipient."""

import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from renderer.core import compose, raster, sandbox, text
from renderer.core.catalog import load_template
from renderer.core.render import plan

from .test_compose import psnr
from .test_exports import EXPORTS

FIGMA = (EXPORTS / "figma" / "template.svg").read_text()
FRAME = '<g clip-path="url(#clip0_12_34)">'


def figma(make_template, svg: str = FIGMA):
    manifest = (EXPORTS / "figma" / "manifest.toml").read_text()
    return load_template(make_template(svg, name="figma", manifest=manifest))


def as_exported(template, job) -> Image.Image:
    """The export as it was written (frame group and all), filled and drawn whole."""
    jinja = sandbox.environment.from_string(template.source)
    root = template.parse(sandbox.fill(jinja, {**job.values, "now": job.now, "frame": 0}))
    text.typeset(root)
    size = (template.width, template.height)
    return raster.rasterize(ET.tostring(root), template.fetcher, *size).convert("RGB")


@pytest.mark.parametrize("which", ["Ana", "Maximiliana Featherstonehaugh"])
def test_the_figma_frame_is_split_into_the_same_picture(which):
    template = load_template(EXPORTS / "figma")
    layers = template.layers
    assert layers.layered and "clips to the whole canvas" in layers.note
    assert sum(run.static for run in layers.runs) == 2  # background, photo and card; the subtitle
    job = plan(template, {"first_name": which, "code": "SPRING25"})
    root = template.parse(template.fill(job.values, job.now))
    compose.fit_dynamic(layers, root)
    size = (template.width, template.height)
    layered = compose.compose(layers, root, template.fetcher, size).convert("RGB")
    assert psnr(layered, as_exported(template, job)) >= 40
    summary = template.summary()
    assert summary["frame"] == layers.note and summary["whole_because"] is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ((FRAME, FRAME[:-1] + ' opacity="0.9">'), "it sets opacity"),
        (('<rect width="1080" height="1350" fill="white"/>\n</clipPath>',
          '<rect width="1000" height="1350" fill="white"/>\n</clipPath>'),
         "its clip rectangle is smaller than the canvas"),
        (('<clipPath id="clip0_12_34">', '<clipPath id="clip0_12_34" transform="scale(2)">'),
         "its clip path is transformed"),
        (("<defs>", "<style>g text { fill: #f00 }</style><defs>"), "CSS selects through it"),
    ],
)  # fmt: skip
def test_a_frame_that_does_more_than_clip_to_the_canvas_stays_whole(make_template, change, why):
    assert change[0] in FIGMA
    template = figma(make_template, FIGMA.replace(*change, 1))
    assert template.layers.note.startswith("one group wraps everything and stays whole")
    assert template.layers.note.endswith(why)
    assert template.summary()["redrawn"] > 0.9  # the whole frame, for every recipient


def test_the_info_says_how_much_is_drawn_per_recipient():
    summary = load_template(EXPORTS / "illustrator").summary()
    assert 0 < summary["redrawn"] < 0.2  # the name, the code and the badge's number
    assert summary["frame"] is None


def test_a_template_drawn_whole_says_why_and_redraws_everything(make_template):
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400">
<style>rect + text { fill: #c00 }</style><rect width="400" height="400" fill="#fff"/>
<text x="20" y="200" font-family="Inter" font-size="48">{{ first_name }}</text></svg>"""
    summary = load_template(make_template(svg)).summary()
    assert summary["redrawn"] == 1.0 and "depends on siblings" in summary["whole_because"]
