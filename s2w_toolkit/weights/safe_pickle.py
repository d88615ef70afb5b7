"""A restricted unpickler for weight files that are plain pickles of numpy arrays.

The VGGFace2 ``.pkl`` files (Python-2-era pickles of ``{layer name: numpy array}``) are read
with :func:`read_array_pickle`. Only numpy arrays, numpy dtypes/scalars and builtin containers
may be built; a pickle that asks for anything else (a function to call, a class to import) is
refused before it runs, with a one-line :class:`~s2w_toolkit.errors.CheckpointError`.

Example:
    >>> import io, pickle, numpy as np
    >>> blob = pickle.dumps({"fc.bias": np.zeros(3, np.float32)}, protocol=2)
    >>> read_array_pickle(io.BytesIO(blob))["fc.bias"].shape
    (3,)
    >>> import os
    >>> read_array_pickle(io.BytesIO(pickle.dumps(os.getcwd)))
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.CheckpointError: <stream>: refused to unpickle posix.getcwd; only numpy arrays and builtin containers are allowed
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import CheckpointError
from .formats import check_weights_file


def _allowed() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray  # numpy >= 2; numpy.core is an alias of it there
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray

    table: dict[tuple[str, str], object] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "_reconstruct")] = multiarray._reconstruct
        table[(module, "scalar")] = multiarray.scalar
    for module in ("numpy", "numpy.core", "numpy._core"):
        table[(module, "ndarray")] = np.ndarray
        table[(module, "dtype")] = np.dtype
    table[("numpy", "float32")] = np.float32
    table[("collections", "OrderedDict")] = OrderedDict
    table[("_codecs", "encode")] = _latin1_bytes  # how Python 3 pickles bytes at protocol < 3
    return table


def _latin1_bytes(text: str, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError("refused a codec call other than latin-1 text to bytes")
    return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals in :func:`_allowed`; anything else raises."""

    allowed = _allowed()

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to unpickle {module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")


def restricted_load(stream: BinaryIO, label: str, encoding: str = "latin1") -> object:
    """Unpickle ``stream`` allowing only numpy arrays, numpy dtypes/scalars and builtin
    containers; anything else, a truncated stream or a non-pickle raises a one-line
    :class:`CheckpointError` naming ``label``. ``encoding="bytes"`` keeps Python 2 strings as bytes."""
    try:
        return _ArrayUnpickler(stream, encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if message.startswith("refused"):
            message += "; only numpy arrays and builtin containers are allowed"
        else:
            message = f"not a readable pickle ({message})"
        raise CheckpointError(f"{label}: {message}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{label}: truncated or not a pickle of arrays ({detail})") from None


def read_array_pickle(source: str | Path | BinaryIO) -> dict[str, np.ndarray]:
    """``{name: array}`` from a pickle of numpy arrays, read with ``encoding="latin1"`` so
    that Python 2 pickles load. Raises :class:`CheckpointError` on anything else."""
    label = "<stream>" if hasattr(source, "read") else str(source)
    if not hasattr(source, "read"):
        check_weights_file(source)  # missing, a symlink loop, a folder or a FIFO: one line, no blocking open
    try:
        stream = source if hasattr(source, "read") else open(source, "rb")
    except OSError as exc:
        raise CheckpointError(f"{label}: cannot open ({exc.strerror or exc})") from None
    try:
        data = restricted_load(stream, label)
    finally:
        if not hasattr(source, "read"):
            stream.close()
    if not isinstance(data, dict) or not data:
        raise CheckpointError(f"{label}: expected a dict of numpy arrays, found {type(data).__name__}")
    bad = [k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        raise CheckpointError(f"{label}: expected a dict of numpy arrays; entry {bad[0]!r} is not one")
    return data
