"""Checking a file name taken from a user's list (a pair list, a labels file) before the
operating system sees it: a name the OS cannot take is the toolkit's one-line error about that
file, not a ``ValueError`` that stops the whole run.

Example:
    >>> usable_path("faces/a.jpg").name
    'a.jpg'
    >>> usable_path("faces/a\\0.jpg")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.ImageError: faces/a\\0.jpg: not a usable file name (it holds a NUL byte)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ImageError


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as a message shows it: a NUL byte written as ``\\0``."""
    return os.fsdecode(os.fspath(path)).replace("\0", "\\0")


def usable_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or an :class:`~s2w_toolkit.errors.ImageError`
    naming it when no file can have that name (it holds a NUL byte)."""
    text = os.fsdecode(os.fspath(path))
    if "\0" in text:
        raise ImageError(f"{shown(text)}: not a usable file name (it holds a NUL byte)")
    return Path(text)
