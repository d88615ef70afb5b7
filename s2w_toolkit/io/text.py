"""Reading the text files users hand in (pair lists, label lists): UTF-8 only, and a file that is
not UTF-8 is a one-line error naming the file and the line of the first bad byte.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> _ = path.write_bytes("a,b,same\\nJos\\xe9.jpg,b.jpg,1\\n".encode("latin-1"))
    >>> read_text(path)
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: .../pairs.csv:2: not UTF-8 text (byte 0xe9 at column 4); save the file as UTF-8
    >>> _ = path.write_text("a,b,same\\nJosé.jpg,b.jpg,1\\n", encoding="utf-8")
    >>> read_text(path).splitlines()[1]
    'José.jpg,b.jpg,1'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import S2WError
from .files import read_regular

_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def read_text(path: str | os.PathLike[str], error: type[S2WError] = S2WError) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark dropped, newlines as written);
    ``error`` (a :class:`~s2w_toolkit.errors.S2WError` subclass) names the file, and for text
    that is not UTF-8 the line, in one line."""
    path = Path(path)
    data = read_regular(path, what="a text file", error=error)  # a FIFO is refused, never waited on
    head = data[:64]
    if data.startswith(_UTF16) or (len(head) >= 4 and (not head[0::2].strip(b"\0") or not head[1::2].strip(b"\0"))):
        raise error(f"{path}:1: UTF-16 text, not UTF-8; save the file as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        body, start = exc.object, exc.start  # the text after a byte-order mark
        line = body.count(b"\n", 0, start) + 1
        column = start - (body.rfind(b"\n", 0, start) + 1) + 1
        raise error(f"{path}:{line}: not UTF-8 text (byte 0x{body[start]:02x} at column {column}); "
                    "save the file as UTF-8") from None
