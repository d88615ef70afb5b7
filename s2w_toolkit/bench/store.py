"""A results folder that never loses, mixes or half-writes rows.

- :func:`locked` holds an exclusive lock on the folder for the run (``.s2w-lock``, through
  ``flock``, so a process killed with ``kill -9`` leaves no live lock: the pid it left in the
  file is taken over with a warning). A second run into the same folder is refused, naming the
  pid. The file stays, empty, between runs.
- :func:`read_rows` reads ``results.jsonl``; a partial last line (a run killed while writing
  it) is dropped with a warning that names it, and ``repair=True`` also cuts it off the file so
  that appending goes on from a whole line. A corrupt line elsewhere is an error naming it.
- :func:`append_row` writes one whole line, flushed to disk before it returns.
- :func:`differing_setting` names the first setting in which two runs differ.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with locked(folder):
    ...     with open_results(folder) as fd:
    ...         append_row(fd, {"key": "p1", "explainer": "x", "value": 1.5})
    >>> [row["value"] for row in read_rows(folder / RESULTS)]
    [1.5]
    >>> differing_setting({"steps": 20, "fill": "black"}, {"steps": 10, "fill": "black"})
    'steps'
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import S2WError
from ..io.json_data import dumps

RESULTS = "results.jsonl"
LOCK = ".s2w-lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        return "?"


@contextmanager
def locked(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the folder's lock for the ``with`` block; refuse a folder that another live run holds."""
    path = Path(folder) / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise S2WError(f"{path}: cannot create the lock file ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise S2WError(f"{folder}: in use by another s2w run (pid {_holder(path)}, lock {path}); wait for it "
                           "to finish or choose another --out") from None
        previous = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
        if previous:
            warnings.warn(f"{folder}: took over the stale lock of pid {previous[0]}, which is no longer running",
                          stacklevel=3)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            # emptied, never removed: removing it would let a run that opened the old file
            # and a run that creates a new one both hold "the" lock
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _warn_partial(path: Path, tail: bytes) -> None:
    warnings.warn(f"{path}: dropped a partial last line ({len(tail)} bytes, from a run that was interrupted "
                  "while writing it)", stacklevel=3)


def read_rows(path: str | os.PathLike[str], repair: bool = False,
              required: tuple[str, ...] = ("key", "explainer")) -> list[dict[str, Any]]:
    """The rows of a results file, in file order (see the module docstring); each must hold the
    keys ``required``."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1  # rows end with a newline: anything after the last one is partial
    body, tail = data[:cut], data[cut:]
    if tail:
        _warn_partial(path, tail)
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut)
    rows = []
    for number, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise S2WError(f"{path}:{number}: not a result row ({exc}); the file is damaged") from None
        if not isinstance(row, dict) or any(k not in row for k in required):
            raise S2WError(f"{path}:{number}: not a result row (needs {' and '.join(map(repr, required))})")
        rows.append(row)
    return rows


@contextmanager
def open_results(folder: str | os.PathLike[str], name: str = RESULTS) -> Iterator[int]:
    """An append-only file descriptor on the folder's ``results.jsonl`` (or ``name``)."""
    fd = os.open(Path(folder) / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def append_row(fd: int, row: dict[str, Any]) -> None:
    """Append ``row`` as one whole JSON line and flush it to disk (strict JSON: a non-finite
    number is written as null; anything else JSON cannot hold raises ``TypeError``)."""
    data = (dumps(row) + "\n").encode("utf-8")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def differing_setting(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The first key (sorted) whose value differs between two settings dicts, or None."""
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return key
    return None
