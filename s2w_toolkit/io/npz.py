"""Reading arrays from a NumPy ``.npz`` archive that someone else made, with the sizes checked
before anything is decompressed.

``np.load`` trusts the shape in each array's header: a 1.5 MB archive of zeros can declare a
20000x20000 array and take 1.6 GB. :func:`read_arrays` reads each named array's header first
and refuses an array of more than ``max_elements`` values, of a non-numeric type (no pickled
objects), or a file that is not a regular file; every refusal is one line naming the file.

Example:
    >>> import io, os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "maps.npz")
    >>> np.savez_compressed(path, **{"maps/a": np.eye(3, dtype=np.float32)})
    >>> read_arrays(path, ["maps/a"])["maps/a"].shape
    (3, 3)
    >>> read_arrays(path, ["maps/a"], max_elements=4)
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: .../maps.npz: array 'maps/a' is 3x3 (9 values), over the limit of 4
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Iterable
from typing import IO

import numpy as np

from ..errors import S2WError
from .files import open_regular

#: The array types accepted: booleans, integers and floats (never objects, strings or records).
NUMERIC_KINDS = "biuf"


def _header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_array(archive: zipfile.ZipFile, key: str, path: os.PathLike[str] | str, max_elements: int | None,
                error: type[S2WError]) -> np.ndarray:
    try:
        info = archive.getinfo(f"{key}.npy")
    except KeyError:
        raise error(f"{path}: holds no array {key!r}") from None
    with archive.open(info) as stream:
        shape, fortran, dtype = _header(stream)
        count = math.prod(shape)
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise error(f"{path}: array {key!r} is of type {dtype}, not numbers")
        if max_elements is not None and count > max_elements:
            raise error(f"{path}: array {key!r} is {'x'.join(map(str, shape))} ({count:,} values), over the limit "
                        f"of {max_elements:,}")
        buffer = bytearray(count * dtype.itemsize)
        if stream.readinto(buffer) != len(buffer):
            raise error(f"{path}: array {key!r} is truncated")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def read_arrays(path: str | os.PathLike[str], keys: Iterable[str], max_elements: int | None = None,
                error: type[S2WError] = S2WError) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the ``.npz`` archive ``path``, each of at most ``max_elements``
    values (None: no limit); ``error`` (one line naming ``path``) for anything else."""
    with open_regular(path, "a NumPy archive (.npz)", error) as stream:
        try:
            with zipfile.ZipFile(stream) as archive:
                return {key: _read_array(archive, key, path, max_elements, error) for key in keys}
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise error(f"{path}: not a readable NumPy archive ({exc})") from None
