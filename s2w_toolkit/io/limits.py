"""The decompression-bomb guard's limits, without numpy or PIL (the CLI's options read them at
import time): for photos and maps (:func:`max_image_pixels`), and for the figures a report
embeds (:func:`max_figure_pixels`, :data:`MAX_FIGURE_BYTES`).

Example:
    >>> max_image_pixels() == MAX_IMAGE_PIXELS  # unless S2W_MAX_IMAGE_PIXELS is set
    True
    >>> max_figure_pixels() <= MAX_FIGURE_PIXELS
    True
"""

from __future__ import annotations

import os

from ..errors import ImageError

MAX_IMAGE_PIXELS = 200_000_000  # default limit: a 16000x12500 photo; 3 bytes a pixel once decoded
MAX_PIXELS_ENV = "S2W_MAX_IMAGE_PIXELS"
#: Most pixels of a figure that ``s2w report`` embeds: the toolkit's own figures are a few
#: megapixels; 40 MP decode to 120 MB (RGB), a page still readable in a browser.
MAX_FIGURE_PIXELS = 40_000_000
#: Most bytes of a figure file that ``s2w report`` reads (its PNGs are a few MB at most).
MAX_FIGURE_BYTES = 64 << 20


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


def max_figure_pixels() -> int:
    """The most pixels a report figure may have: :data:`MAX_FIGURE_PIXELS`, or the image limit
    when that is lower."""
    limit = max_image_pixels()
    return MAX_FIGURE_PIXELS if limit is None else min(MAX_FIGURE_PIXELS, limit)
