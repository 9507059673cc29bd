"""How good an encoded image looks where it is seen: SSIM at the size a phone shows an MMS.

A phone shows an MMS in the thread at about 240-400 px wide and full screen only when tapped.
Under a tight byte budget, a smaller image at a higher JPEG quality often looks better there
than the full size at a quality that rings and blocks: the encoder compares the candidates
with this measure rather than by quality alone (thumbor's and imgproxy's ``max_bytes``).
SSIM (Wang et al., 2004) on luma, over 7x7 windows, after both images are brought to the
display width.
"""

import io

import numpy as np
from PIL import Image

DISPLAY_WIDTH = 400  # px: an MMS in the conversation, on most phones
WINDOW = 7
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def display_ssim(reference: Image.Image, encoded: bytes) -> float:
    """SSIM of ``encoded`` against ``reference`` (the image before encoding, at full size),
    both seen at ``DISPLAY_WIDTH``: 1.0 is identical."""
    with Image.open(io.BytesIO(encoded)) as candidate:
        seen = _at_display(candidate.convert("RGB"))
    return ssim(_at_display(reference.convert("RGB")), seen)


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM of two images of one size, on their luma."""
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    mean_x, mean_y = _window_mean(x), _window_mean(y)
    var_x = _window_mean(x * x) - mean_x**2
    var_y = _window_mean(y * y) - mean_y**2
    covariance = _window_mean(x * y) - mean_x * mean_y
    numerator = (2 * mean_x * mean_y + C1) * (2 * covariance + C2)
    denominator = (mean_x**2 + mean_y**2 + C1) * (var_x + var_y + C2)
    return float(np.mean(numerator / denominator))


def _at_display(image: Image.Image) -> Image.Image:
    height = max(1, round(image.height * DISPLAY_WIDTH / image.width))
    return image.resize((DISPLAY_WIDTH, height), Image.Resampling.LANCZOS)


def _window_mean(values: np.ndarray) -> np.ndarray:
    """The mean over every WINDOW x WINDOW window that fits (a box filter, by summed areas)."""
    summed = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    w = WINDOW
    total = summed[w:, w:] - summed[:-w, w:] - summed[w:, :-w] + summed[:-w, :-w]
    return total / (w * w)
