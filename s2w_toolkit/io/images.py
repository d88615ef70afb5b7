"""Reading photos into RGB uint8 arrays, whatever their mode.

Grayscale, grayscale+alpha, palette, RGBA, CMYK and 16-bit images are converted; EXIF
orientation is applied. Anything unreadable raises :class:`~s2w_toolkit.errors.ImageError`:
a missing file, a symlink loop, a folder, a FIFO or device (only regular files are opened, so
nothing blocks), and an image of more than :func:`max_image_pixels` pixels (decompression-bomb
guard: ``S2W_MAX_IMAGE_PIXELS`` or ``--max-image-pixels`` raise it, 0 lifts it).

Example:
    >>> from s2w_toolkit.data import demo_image
    >>> read_image(demo_image("obama")).dtype
    dtype('uint8')
    >>> max_image_pixels() == MAX_IMAGE_PIXELS  # unless S2W_MAX_IMAGE_PIXELS is set
    True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError
from .files import open_regular
from .limits import MAX_IMAGE_PIXELS, MAX_PIXELS_ENV, max_image_pixels  # noqa: F401 - re-exported

_PIL_LIMIT = threading.Lock()  # read_image swaps PIL's own global limit for the toolkit's


def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (non-blocking: a FIFO cannot hang)."""
    return open_regular(path, "an image file", ImageError, folder_what="an image")


def _to_rgb8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return _rows_to_array(img if img.mode == "RGB" else img.convert("RGB"))


def _rows_to_array(img: Image.Image) -> np.ndarray:
    """An RGB image as a ``(H, W, 3)`` array, copied in bands of rows: a large photo is never
    held twice (``np.asarray`` would first copy all of it into a bytes object)."""
    width, height = img.size
    out = np.empty((height, width, 3), np.uint8)
    band = max(1, (16 << 20) // max(1, 3 * width))  # rows in ~16 MB
    for top in range(0, height, band):
        out[top:top + band] = np.asarray(img.crop((0, top, width, min(height, top + band))))
    return out


#: What a decompression-bomb refusal suggests: the two ways to raise the limit.
RAISE_HINT = f"raise it with --max-image-pixels N or {MAX_PIXELS_ENV}=N (0: no limit)"


@contextmanager
def opened_image(stream: BinaryIO, path: str | Path, limit: int | None,
                 hint: str = RAISE_HINT) -> Iterator[Image.Image]:
    """``Image.open(stream)`` (only the header is read) with the toolkit's pixel ``limit`` in
    place of PIL's own: :class:`ImageError` for an image over it, or one PIL cannot read (also
    while the caller decodes it inside the ``with``).

    Example:
        >>> from s2w_toolkit.data import demo_image
        >>> with open(demo_image("obama"), "rb") as f, opened_image(f, "obama.jpg", 10_000, "too big") as img:
        ...     pass
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.ImageError: obama.jpg: 910x1137 is 1,034,670 pixels, over the limit of 10,000 (...); too big
    """
    with _PIL_LIMIT:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the toolkit's limit applies instead
        try:
            with Image.open(stream) as img:
                width, height = img.size
                if limit is not None and width * height > limit:
                    raise ImageError(f"{path}: {width}x{height} is {width * height:,} pixels, over the limit of "
                                     f"{limit:,} (a decompression bomb?); {hint}")
                yield img
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image, or corrupt") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{path}: cannot read image ({exc})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def read_image(path: str | Path) -> np.ndarray:
    """Read a photo as an RGB uint8 array ``(H, W, 3)``; transparent pixels become white."""
    path = Path(path)
    limit = max_image_pixels()
    with _open_regular(path) as stream, opened_image(stream, path, limit) as img:
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        rgb = _to_rgb8(img)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ImageError(f"{path}: unsupported image layout {rgb.shape}")
    return np.ascontiguousarray(rgb)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a regular file's bytes (hex); the same one-line errors as :func:`read_image`.

    Example:
        >>> from s2w_toolkit.data import demo_image
        >>> len(file_digest(demo_image("obama")))
        64
    """
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    with _open_regular(path) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
