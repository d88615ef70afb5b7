"""The decompression-bomb guard's limit, without numpy or PIL (the CLI's options read it at
import time).

Example:
    >>> max_image_pixels() == MAX_IMAGE_PIXELS  # unless S2W_MAX_IMAGE_PIXELS is set
    True
"""

from __future__ import annotations

import os

from ..errors import ImageError

MAX_IMAGE_PIXELS = 200_000_000  # default limit: a 16000x12500 photo; 3 bytes a pixel once decoded
MAX_PIXELS_ENV = "S2W_MAX_IMAGE_PIXELS"


def max_image_pixels() -> int | None:
    """The most pixels an image may have: ``S2W_MAX_IMAGE_PIXELS`` when set (0: no limit),
    else :data:`MAX_IMAGE_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return MAX_IMAGE_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise ImageError(f"{MAX_PIXELS_ENV}={raw!r}: not a whole number of pixels (0 = no limit)")
    return value or None
