"""Reading PyTorch checkpoints safely (``weights_only=True``) with one-line errors.

Example:
    >>> import torch, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.pth")
    >>> torch.save({"module.fc.weight": torch.zeros(2, 2)}, path)
    >>> list(read_state_dict(path))
    ['fc.weight']
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from .formats import PYTORCH, check_weights_file, describe_content, refuse_unless, sniff_format


def read_state_dict(path: str | Path, expected: str = "a PyTorch .pth state dict") -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth`` file, unwrapped from ``{"state_dict": ...}`` and stripped
    of a DataParallel ``module.`` prefix. Never runs pickled code (``weights_only=True``);
    ``expected`` names the file wanted in the one-line errors. A file that is neither a torch
    zip archive nor a pickle is refused before torch reads it."""
    path = check_weights_file(path, "checkpoint file")
    if sniff_format(path) is None:
        raise CheckpointError(f"{path}: expected {expected}, but it is not a checkpoint: {describe_content(path)}")
    refuse_unless(path, PYTORCH, expected)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = " ".join(str(exc).split())
        if text.startswith("Weights only load failed"):
            reason = "it holds pickled objects other than tensors, which are never unpickled here"
        else:
            reason = f"truncated or corrupt: {text[:160] or type(exc).__name__}"
        raise CheckpointError(f"{path}: expected {expected}, but {reason}") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors, found {type(data).__name__}")
    return {k.removeprefix("module."): v for k, v in data.items()}


def load_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path, expected: str) -> None:
    """``net.load_state_dict(state, strict=True)``, with a mismatch reported as one line."""
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{source}: not {expected} ({detail})") from None
