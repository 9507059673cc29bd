"""How big a template, a value and an image may get, and how a byte size is written.

Every limit of the render core lives here, so that the catalog, the guard, the rasterizer,
the encoder, lint and the CLI agree. (The HTTP service's own limits, on bodies and queries,
are in ``renderer/service/limits.py``.)
"""

import re

# Carriers reject MMS media over about 600 KB. Nothing may produce more, whatever is set.
HARD_CAP_BYTES = 600_000
DEFAULT_BUDGET_BYTES = 500_000
MIN_BUDGET_BYTES = 1_000

# The image
MAX_SIDE_PX = 2048  # output; T-Mobile caps at 3000 px, we stay well under
MIN_SIDE_PX = 160  # the encoder scales down to fit a budget, never below this
MIN_QUALITY, MAX_QUALITY = 40, 95  # JPEG; over 95 grows with nothing to see
LOW_QUALITY_WARNING = 60  # lint warns when a budget is only met below this JPEG quality

# The template
MAX_SVG_SIDE = 4096  # the SVG's own width/height attributes
MAX_SVG_BYTES = 2_000_000  # template.svg source
MAX_MANIFEST_BYTES = 64_000  # manifest.toml source
MAX_ELEMENTS = 10_000  # after filling
MAX_NESTING = 64  # element depth; CairoSVG draws recursively
MAX_REFERENCE_DEPTH = 8  # <use>, pattern, mask, marker ... referring to one that refers ...
# What one drawing of a filled SVG may cost, in elements drawn: every reuse counts (a <use>,
# each use of a pattern, mask or clip path, a marker at each vertex, a nested SVG image), a
# <text> costs one more per TEXT_CHARS_PER_UNIT characters and an image one more per
# IMAGE_PIXELS_PER_UNIT pixels decoded. One unit is about 0.1 ms of CairoSVG (bench/hostile).
MAX_DRAW_COST = 10_000
TEXT_CHARS_PER_UNIT = 3
IMAGE_PIXELS_PER_UNIT = 8_000
MAX_IMAGE_PIXELS = 2 * MAX_SIDE_PX * MAX_SIDE_PX  # every decoded image, file or data: URI:
# twice the largest output's pixels (8.4 Mpx, 34 MB decoded); more is never seen
MAX_LAYER_BYTES = 64_000_000  # the static layers a template keeps drawn, else it draws whole
MAX_ASSET_BYTES = 10_000_000
MAX_ASSET_SIDE_PX = 8192  # decompression bombs among the assets
MAX_TEMPLATE_FILES = 200
MAX_PATH_CHARS = 200  # a file's path inside the template folder
MAX_FRAMES = 120  # an animated GIF's frames
MAX_FRAME_MS = 60_000  # a loop frame's duration
MAX_ANIMATION_PIXELS = 24_000_000  # frames x width x height
MAX_RENDER_SECONDS = 5.0  # an animation still being drawn after this is refused

# Filling the template (Jinja2): bounded in steps (loop iterations, calls, operators) and in
# the characters and items every operation makes, so a loop or a string that doubles stops.
MAX_FILL_STEPS = 200_000
MAX_FILL_UNITS = 8_000_000  # characters and items made or read, all operations together

# Template work in a child process (upload lint): what it may use before it is stopped.
WORK_CPU_SECONDS = 3
WORK_WALL_SECONDS = 4.0
WORK_MEMORY_BYTES = 768_000_000  # address space
MAX_TEXT_SHARE = 0.20  # lint: text covering more of the image looks like spam to carriers

# Values
DEFAULT_MAX_LENGTH = 64  # a text field's characters, unless its manifest says otherwise
MAX_FIELD_LENGTH = 1_000  # ... and the most a manifest may allow
MAX_NUMBER_TEXT = 32  # an int or money given as a 10,000-digit string is refused before parsing
MAX_LIVE_VALUE = 1_000_000_000  # a live count (stock)

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
