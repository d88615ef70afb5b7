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

from pathlib import Path

from ..errors import CheckpointError

PYTORCH = "a PyTorch checkpoint"
PICKLE = "a pickle"
ONNX = "an ONNX model"
DLIB = "a dlib model"


def sniff_format(path: str | Path) -> str | None:
    """One of :data:`PYTORCH`, :data:`PICKLE`, :data:`ONNX`, :data:`DLIB`, or None when the
    bytes match none of them (or the file cannot be read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
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
