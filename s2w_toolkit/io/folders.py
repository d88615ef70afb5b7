"""Output folders: created when missing, and checked to be writable before any work is done.

Example:
    >>> import tempfile, pathlib
    >>> writable_folder(pathlib.Path(tempfile.mkdtemp()) / "new" / "out").is_dir()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import S2WError


def writable_folder(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check that files can be written in it; a one-line
    :class:`~s2w_toolkit.errors.S2WError` otherwise."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".s2w-write-test-{os.getpid()}"  # per process: runs started at once do not race
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise S2WError(f"{folder}: output folder cannot be written ({exc.strerror or exc})") from None
    return folder
