"""What the figures were measured on: they mean nothing without it."""

import os
import platform
from pathlib import Path

import cairosvg
import PIL
from PIL import features


def describe() -> dict[str, str | int]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count() or 0,
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo") or "no",
        "cairosvg": cairosvg.__version__,
        "load_at_start": os.getloadavg()[0],
    }
