"""Filled, checked SVG -> RGBA pixels, with CairoSVG, reading only the template's own files.

The url_fetcher serves files from the template's in-memory copy (read and checked at load)
and ``data:`` images (sized from their headers before CairoSVG decodes them); everything
else is refused with a TemplateError. Pixels are read off the
cairo surface directly: no PNG encode and decode between CairoSVG and the encoder.
"""

from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import cairosvg.parser
import cairosvg.surface
from PIL import Image

import renderer.core.effects  # noqa: F401 (draws SVG filters inside CairoSVG)
from renderer.core import guard
from renderer.core.errors import TemplateError

DPI = 96


class Fetcher:
    """A CairoSVG url_fetcher confined to one template's files.

    CairoSVG resolves a relative reference against the document's URL, and a ``file:`` URL
    by looking at the disk. A template's files are in memory (it may come from the template
    store, with no folder at all), so its documents get a URL of a scheme CairoSVG joins as
    text (``BASE``), and only that URL's paths are served.
    """

    BASE = "mms://template/"

    def __init__(self, files: Mapping[str, bytes]):
        self.files = files

    def __call__(self, url: str, resource_type: str) -> bytes:
        if url.startswith("data:"):
            data = guard.data_uri(url)
            guard.image_cost(data)  # a second wall: the guard priced it already
            return data
        if not url.startswith(self.BASE):
            raise TemplateError(f"refused to fetch {url[:80]!r}: outside the template folder")
        relative = PurePosixPath(unquote(urlsplit(url).path).lstrip("/"))
        if ".." in relative.parts or relative.as_posix() not in self.files:
            raise TemplateError(f"refused to fetch {url[:80]!r}: not a file of the template")
        return self.files[relative.as_posix()]


def rasterize(svg: bytes, fetcher: Fetcher, width: int, height: int) -> Image.Image:
    """Draw ``svg`` at ``width`` x ``height`` px and return its pixels as an RGBA image."""
    try:
        tree = cairosvg.parser.Tree(
            bytestring=svg, url=fetcher.BASE + "template.svg", url_fetcher=fetcher
        )
        surface = cairosvg.surface.PNGSurface(
            tree, None, DPI, output_width=width, output_height=height
        )
    except TemplateError:
        raise
    except Exception as exc:  # CairoSVG raises bare TypeError/ValueError on odd SVG
        raise TemplateError(f"CairoSVG could not draw the SVG: {exc}") from None
    image_surface = surface.cairo
    image_surface.flush()
    pixels = image_surface.get_data()
    return Image.frombuffer(
        "RGBA", (width, height), bytes(pixels), "raw", "BGRa", image_surface.get_stride(), 1
    )
