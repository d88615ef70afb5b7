"""Opening files that other people made, safely: only regular files (a FIFO or a device would
block or never end), only inside a given folder (``..``, an absolute name or a symlink cannot
lead out of it), and never more bytes than a limit.

Every refusal is a one-line :class:`~s2w_toolkit.errors.S2WError` (or the subclass the caller
names) that starts with the file's path.

Example:
    >>> import os, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("hello")
    >>> read_regular(inside(folder, "a.txt"))
    b'hello'
    >>> inside(folder, "../etc/passwd")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: .../../etc/passwd: leads outside .../...
    >>> os.mkfifo(folder / "pipe")
    >>> read_regular(folder / "pipe")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: .../pipe: is a FIFO (named pipe), not a regular file
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import S2WError
from .paths import shown

_KINDS = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
          stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


def open_regular(path: str | os.PathLike[str], what: str = "a regular file",
                 error: type[S2WError] = S2WError, folder_what: str | None = None) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file, else raise ``error`` naming
    what it is instead of ``what`` (``folder_what`` for a folder; default ``what``). The open is
    non-blocking, so a FIFO is refused at once instead of waiting for a writer."""
    if "\0" in os.fsdecode(os.fspath(path)):  # the OS would raise a bare ValueError
        raise error(f"{shown(path)}: not a usable file name (it holds a NUL byte)")
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{path}: symlink loop") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = os.path.islink(path)
            raise error(f"{path}: no such file{' (broken symlink)' if broken else ''}") from None
        if exc.errno == errno.EISDIR:
            raise error(f"{path}: is a folder, not {folder_what or what}") from None
        raise error(f"{path}: cannot open ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(f"{path}: is a folder, not {folder_what or what}")
        kind = next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")
        raise error(f"{path}: is {kind}, not {what}")
    os.set_blocking(fd, True)  # a regular file: reads never wait anyway, and buffered reads expect blocking
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike[str], max_bytes: int | None = None, what: str = "a regular file",
                 error: type[S2WError] = S2WError) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`); ``error`` when it holds
    more than ``max_bytes``."""
    with open_regular(path, what, error) as stream:
        if max_bytes is None:
            return stream.read()
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{path}: larger than {max_bytes:,} bytes, the most read for {what}")
    return data


def inside(folder: str | os.PathLike[str], name: str | os.PathLike[str], error: type[S2WError] = S2WError) -> Path:
    """The resolved path of ``name`` under ``folder`` (symlinks followed), or ``error`` when it
    leads outside the resolved folder: an absolute name, ``..``, or a symlink pointing out."""
    shown = Path(folder) / name
    try:
        root = Path(folder).resolve()
        target = (root / name).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop on the way
        raise error(f"{shown}: cannot be resolved ({exc})") from None
    if target != root and root not in target.parents:
        raise error(f"{shown}: leads outside {folder}")
    return target
