"""Where things are, how big they may get, and how a byte size is written.

Every limit lives here so that the catalog, the rasterizer, the encoder and the CLI agree.
"""

import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_TEMPLATES = PROJECT_ROOT / "templates_svg"
FONTS_DIR = PROJECT_ROOT / "fonts"

# Carriers reject MMS media over about 600 KB. Nothing may produce more, whatever is set.
HARD_CAP_BYTES = 600_000
DEFAULT_BUDGET_BYTES = 500_000

MAX_SIDE_PX = 2048  # output; T-Mobile caps at 3000 px, we stay well under
MAX_SVG_SIDE = 4096  # the SVG's own width/height attributes
MAX_SVG_BYTES = 2_000_000  # template.svg source
MAX_ELEMENTS = 10_000  # after filling, and after <use> expansion
MAX_NESTING = 64  # element depth; CairoSVG draws recursively
MAX_USE_DEPTH = 8  # <use> referring to something that holds a <use> ...
MAX_ASSET_BYTES = 10_000_000
MAX_ASSET_SIDE_PX = 8192  # decompression bombs among the assets
MAX_TEMPLATE_FILES = 200

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "k": 1000, "kb": 1000, "m": 1_000_000, "mb": 1_000_000}


def parse_bytes(text: str | int) -> int:
    """Read a byte size such as ``450KB``, ``0.5MB`` or ``500000``.

    KB means 1000 bytes: the carriers' "600 KB" is then a safe reading whichever unit they mean.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a byte size: {text!r} (write it like 450KB, 0.5MB or 500000)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])


def templates_dir(override: str | Path | None = None) -> Path:
    """The templates folder: the argument, else ``RENDERER_TEMPLATES``, else the bundled one."""
    chosen = override or os.environ.get("RENDERER_TEMPLATES")
    return Path(chosen) if chosen else BUNDLED_TEMPLATES
