"""Make the bundled templates' background photos from public-domain / CC0 sources.

Run once by hand; its output is committed. Each source photo is cropped to cover the
template's size, upscaled, and given a light film grain, as designers do, so that the
rendered JPEG is a few hundred KB before any byte budget applies (the budget must bite).

    python templates_svg/make_backgrounds.py SKIMAGE_DATA_DIR

SKIMAGE_DATA_DIR is the ``skimage/data`` folder of a scikit-image wheel (unzip it; the
wheel is only a source of files, never a dependency). Sources and licences:
templates_svg/LICENSES.md.
"""

import sys
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

HERE = Path(__file__).parent

BACKGROUNDS = {
    "product_reveal": ("rocket.jpg", (1280, 720), (0.5, 0.45)),
    "flash_sale": ("chelsea.png", (1080, 1080), (0.5, 0.5)),
    "low_stock": ("coffee.png", (1080, 1350), (0.5, 0.5)),
    "loyalty_badge": ("hubble_deep_field.jpg", (1080, 1080), (0.5, 0.5)),
    "refer_friend": ("astronaut.png", (1080, 1350), (0.5, 0.3)),
}


# How much grain: enough that three of the five go over the 500 KB budget at JPEG q95.
GRAIN = {
    "product_reveal": 0.05,
    "flash_sale": 0.06,
    "low_stock": 0.13,
    "loyalty_badge": 0.14,
    "refer_friend": 0.10,
}


def make(
    name: str, source: Path, size: tuple[int, int], centering: tuple[float, float]
) -> Image.Image:
    photo = Image.open(source).convert("RGB")
    photo = ImageOps.fit(photo, size, Image.Resampling.LANCZOS, centering=centering)
    photo = photo.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))
    grain = Image.effect_noise(size, 64).convert("RGB")
    return Image.blend(photo, grain, GRAIN[name])


def main(data_dir: Path) -> None:
    for name, (source, size, centering) in BACKGROUNDS.items():
        out = HERE / name / "background.jpg"
        out.parent.mkdir(exist_ok=True)
        make(name, data_dir / source, size, centering).save(out, quality=90, subsampling=2)
        print(out, out.stat().st_size)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
