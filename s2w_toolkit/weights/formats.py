"""Recognise a weights file's format from its first bytes, so that a loader given the wrong kind
of file can say what it found instead of failing deep inside a parser.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"\\x08\\x09\\x12\\x07pytorch")
    >>> sniff_format(path)
    'an ONNX model'
    >>> refuse_unless(path, "a PyTorch checkpoint", "a .pth state dict for arcface-r50")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.CheckpointError: ...model.bin: expected a .pth state dict for arcface-r50, found an ONNX model
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from ..errors import CheckpointError

PYTORCH = "a PyTorch checkpoint"
PICKLE = "a pickle"
ONNX = "an ONNX model"
DLIB = "a dlib model"
TFLITE = "a TFLite model"
TFJS = "a TFJS graph model"
TFJS_LAYERS = "a TFJS layers model"

# A TFJS model.json: a JSON object whose first key is one tensorflowjs_converter writes first.
_TFJS_HEAD = re.compile(rb'\A\s*\{\s*"(format|modelTopology|weightsManifest|generatedBy|convertedBy)"\s*:')


def require_weights(weights: str | None, owner: str, needs: str) -> str:
    """``weights``, or a one-line :class:`CheckpointError` ``"<owner> needs <needs>"`` when it
    is None (a model that ships no default weights).

    Example:
        >>> require_weights(None, "arcface-r50", "--weights PATH (an arcface_torch .pth state dict)")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.CheckpointError: arcface-r50 needs --weights PATH (an arcface_torch .pth state dict)
    """
    if weights is None:
        raise CheckpointError(f"{owner} needs {needs}")
    return weights


def check_weights_file(path: str | Path, kind: str = "weights file") -> Path:
    """``path`` if it is a regular file (symlinks followed); else a one-line
    :class:`CheckpointError`: no such ``kind``, symlink loop, a folder, or a FIFO or device
    (which would block a reader).

    Example:
        >>> check_weights_file("/no/such.pth", "checkpoint file")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.CheckpointError: /no/such.pth: no such checkpoint file
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            reason = "symlink loop"
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            reason = f"no such {kind}" + (" (broken symlink)" if os.path.islink(path) else "")
        else:
            reason = f"cannot read {kind} ({exc.strerror or exc})"
        raise CheckpointError(f"{path}: {reason}") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{path}: is a folder, not a {kind}")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{path}: not a regular file (a FIFO, socket or device), not a {kind}")
    return path


def _head(path: str | Path, size: int = 64) -> bytes | None:
    """The first bytes of a regular file; None for anything else (opened non-blocking: a FIFO cannot hang)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)


def describe_content(path: str | Path) -> str:
    """What an unrecognised file holds, for error messages: empty, or its first bytes in hex.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "noise.pth")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(bytes([0x9c, 0x4e, 0x2a, 0x01, 0xff, 0x00, 0x10, 0x7f, 0x33]))
        >>> describe_content(path)
        'unrecognised content (first bytes 9c 4e 2a 01 ff 00 10 7f)'
    """
    head = _head(path, 8)
    if head is None:
        return "unreadable"
    return "the file is empty" if not head else f"unrecognised content (first bytes {head.hex(' ')})"


def sniff_format(path: str | Path) -> str | None:
    """One of :data:`PYTORCH`, :data:`PICKLE`, :data:`ONNX`, :data:`DLIB`, :data:`TFLITE`, :data:`TFJS`,
    :data:`TFJS_LAYERS`, or None when the bytes match none of them (or the file cannot be read, or
    is not a regular file).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
        >>> with open(path, "w") as f:
        ...     _ = f.write('{\\n  "format": "graph-model",\\n  "generatedBy": "2.3.0"}')
        >>> sniff_format(path)
        'a TFJS graph model'
        >>> with open(path, "w") as f:
        ...     _ = f.write('{"format": "layers-model", "modelTopology": {"class_name": "Model"}}')
        >>> sniff_format(path)
        'a TFJS layers model'
    """
    head = _head(path)
    if head is None:
        return None
    tfjs = _TFJS_HEAD.match(head)
    if tfjs:  # a layers model says so in its first bytes: its format, or the Keras topology's class_name
        if b'"layers-model"' in head or b'"class_name"' in head:
            return TFJS_LAYERS
        if b'"graph-model"' in head or tfjs.group(1) != b"format":
            return TFJS
    if head[4:8] == b"TFL3":
        return TFLITE  # a flatbuffer: a 4-byte root offset, then the file identifier "TFL3"
    if head.startswith(b"PK\x03\x04"):
        return PYTORCH  # torch.save writes a zip archive
    if head[:2] == b"\x80\x02" and b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19" in head[:16]:
        return PYTORCH  # the legacy torch.save format: a pickle that starts with torch's magic number
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return PICKLE
    if head[:1] == b"\x08" and (b"\x12" in head[2:4] or b"\x3a" in head[2:4]):
        return ONNX  # ModelProto: field 1 (ir_version) then producer_name (2) or graph (7)
    if head[:2] == b"\x01\x01" and (b"loss_" in head or Path(path).suffix == ".dat"):
        return DLIB
    return None


def refuse_unless(path: str | Path, wanted: str, expected: str) -> None:
    """Raise a one-line :class:`CheckpointError` if ``path`` is recognisably not ``wanted``."""
    found = sniff_format(path)
    if found is not None and found != wanted:
        raise CheckpointError(f"{path}: expected {expected}, found {found}")
