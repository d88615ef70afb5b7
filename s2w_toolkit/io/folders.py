"""Output folders: created when missing, and checked to be writable before any work is done.

Example:
    >>> import tempfile, pathlib
    >>> writable_folder(pathlib.Path(tempfile.mkdtemp()) / "new" / "out").is_dir()
    True
    >>> write_problem(pathlib.Path(tempfile.mkdtemp())) is None
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import S2WError


def write_problem(path: str | os.PathLike[str]) -> str | None:
    """Create ``path`` if needed and write (and remove) a file in it; ``None`` when that works,
    else why not (``"Read-only file system"``). A real write: permission bits alone say nothing
    to root, a read-only mount does."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".s2w-write-test-{os.getpid()}"  # per process: runs started at once do not race
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def writable_folder(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check that files can be written in it; a one-line
    :class:`~s2w_toolkit.errors.S2WError` otherwise."""
    problem = write_problem(path)
    if problem is not None:
        raise S2WError(f"{path}: output folder cannot be written ({problem})")
    return Path(path)
