"""Writing result files so that a crash or a full disk never leaves a half-written one.

Every file is written to a temporary name in the same folder, flushed to disk, and renamed over
the final name; the rename is atomic, so readers see the old file or the new one, never part of
it. On failure the temporary file is removed and the final name is untouched.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_text(folder / "a.json", '{"ok": true}')
    >>> (folder / "a.json").read_text(), sorted(p.name for p in folder.iterdir())
    ('{"ok": true}', ['a.json'])
    >>> with replacing(folder / "b.png") as tmp:
    ...     _ = tmp.write_bytes(b"png")
    >>> (folder / "b.png").read_bytes()
    b'png'
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


#: Characters of the final name's stem kept in a temporary name, and the longest suffix kept: a
#: temporary name stays far below NAME_MAX (255 bytes) whatever the final name's length.
TEMPORARY_STEM = 24
TEMPORARY_SUFFIX = 16


def _temporary(path: Path) -> Path:
    """``.<stem, cut>.tmp-<pid><suffix>`` beside ``path``: same folder (the rename stays on one
    file system), same suffix (matplotlib picks the format from it), short.

    >>> _temporary(Path("/out") / ("x" * 250 + ".html")).name == f".{'x' * 24}.tmp-{os.getpid()}.html"
    True
    """
    suffix = path.suffix if len(path.suffix) <= TEMPORARY_SUFFIX else ""
    return path.with_name(f".{path.stem[:TEMPORARY_STEM]}.tmp-{os.getpid()}{suffix}")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    final = Path(path)
    tmp = _temporary(final)
    try:
        yield tmp
        if tmp.exists():
            _sync(tmp)
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))
