"""The file suffixes taken for images when a folder is read (pair lists from identity folders,
``s2w explain --group``, xCos training): every format the image reader (Pillow) opens.

Example:
    >>> is_image_name("Photo.JPG"), is_image_name("notes.txt")
    (True, False)
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def is_image_name(path: str | Path) -> bool:
    """Whether the file name has an image suffix (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
