"""The trainable xCos attention head and its file format.

:class:`AttentionHead` maps the two faces' feature grids to one attention map over the grid:
a 1x1 convolution on the concatenated grids, ReLU, a 1x1 convolution to one logit per cell,
plus a learned logit per grid position, then a softmax over the ``h w`` cells. It is run on
``(F_a, F_b)`` and ``(F_b, F_a)`` and the logits averaged, so the attention does not depend
on which face is called a. Its inputs are divided by ``feature_scale``, the mean cell norm of
the training grids (stored with the weights). The last convolution and the position logits start at zero: an
untrained head gives the uniform attention.

A head file is a ``torch.save`` of plain data (tensors, ints, floats, strings), readable with
``torch.load(path, weights_only=True)``::

    {"format": "s2w-xcos-head", "version": 1,
     "config": {"channels": C, "height": h, "width": w, "hidden": k, "backbone": name},
     "state_dict": {...}, "training": {...}}

Example:
    >>> import torch, tempfile, os
    >>> head = AttentionHead(channels=8, height=4, width=4, backbone="demo")
    >>> fa, fb = torch.rand(2, 8, 4, 4), torch.rand(2, 8, 4, 4)
    >>> att = head(fa, fb)
    >>> att.shape, bool(torch.allclose(att, torch.full_like(att, 1 / 16)))
    (torch.Size([2, 4, 4]), True)
    >>> path = os.path.join(tempfile.mkdtemp(), "head.pt")
    >>> again = load_head(save_head(head, path))
    >>> again.config == head.config
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from s2w_toolkit.weights.formats import check_weights_file
from s2w_toolkit.errors import CheckpointError
from torch import nn

FORMAT = "s2w-xcos-head"
VERSION = 1
CONFIG_KEYS = ("channels", "height", "width", "hidden", "backbone")


class AttentionHead(nn.Module):
    """Attention ``(N, h, w)`` (softmax over cells) from two grids ``(N, C, h, w)``.

    Example:
        >>> import torch
        >>> head = AttentionHead(channels=4, height=2, width=3)
        >>> round(head(torch.rand(1, 4, 2, 3), torch.rand(1, 4, 2, 3)).sum().item(), 6)
        1.0
    """

    def __init__(self, channels: int, height: int, width: int, hidden: int = 32, backbone: str = "") -> None:
        super().__init__()
        self.config = {"channels": int(channels), "height": int(height), "width": int(width),
                       "hidden": int(hidden), "backbone": str(backbone)}
        self.mix = nn.Conv2d(2 * channels, hidden, kernel_size=1)
        self.out = nn.Conv2d(hidden, 1, kernel_size=1)
        self.position = nn.Parameter(torch.zeros(height, width))
        #: Typical cell norm of the training grids; the head's inputs are divided by it.
        self.register_buffer("feature_scale", torch.ones(()))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def project(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first convolution's two halves applied to each face ``(U, C, h, w)``: the face
        in the role of a and in the role of b, each ``(U, hidden, h w)``. The convolution is
        linear, so a pair's hidden layer is ``relu(first[a] + second[b] + bias)``: faces shared
        by many pairs are projected once."""
        c = self.config["channels"]
        weight = self.mix.weight.flatten(1)
        x = (grids / self.feature_scale).flatten(2)
        return torch.einsum("kc,ncl->nkl", weight[:, :c], x), torch.einsum("kc,ncl->nkl", weight[:, c:], x)

    def pair_logits(self, grids: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """Symmetric cell logits ``(P, h, w)`` for ``pairs`` ``(P, 2)`` of indices into ``grids``."""
        faces, inverse = torch.unique(pairs, return_inverse=True)
        first, second = self.project(grids[faces])
        ia, ib = inverse[:, 0], inverse[:, 1]
        bias = self.mix.bias[None, :, None]
        out = self.out.weight.flatten()
        raw = (torch.einsum("k,pkl->pl", out, F.relu(first[ia] + second[ib] + bias))
               + torch.einsum("k,pkl->pl", out, F.relu(first[ib] + second[ia] + bias)))
        h, w = self.config["height"], self.config["width"]
        return (0.5 * raw + self.out.bias).view(-1, h, w) + self.position

    def logits(self, grid_a: torch.Tensor, grid_b: torch.Tensor) -> torch.Tensor:
        """Symmetric cell logits ``(N, h, w)`` of the pairs ``(grid_a[i], grid_b[i])``."""
        n = grid_a.shape[0]
        index = torch.arange(n, device=grid_a.device)
        return self.pair_logits(torch.cat([grid_a, grid_b]), torch.stack([index, index + n], dim=1))

    @staticmethod
    def softmax(logits: torch.Tensor) -> torch.Tensor:
        """Softmax over the cells of ``(N, h, w)`` logits."""
        return torch.softmax(logits.flatten(1), dim=1).view_as(logits)

    def forward(self, grid_a: torch.Tensor, grid_b: torch.Tensor) -> torch.Tensor:
        return self.softmax(self.logits(grid_a, grid_b))

    def check_grid(self, grid: torch.Tensor, backbone: str, source: str = "head") -> None:
        """Raise :class:`CheckpointError` unless ``grid`` ``(N, C, h, w)`` fits this head."""
        c, h, w = (self.config[k] for k in ("channels", "height", "width"))
        got = tuple(grid.shape[1:])
        if got != (c, h, w):
            trained = self.config["backbone"] or "another backbone"
            raise CheckpointError(f"{source}: this xCos head expects {c}x{h}x{w} feature grids (trained on "
                                  f"{trained}), but backbone {backbone!r} gives {'x'.join(map(str, got))}")


def save_head(head: AttentionHead, path: str | os.PathLike, training: dict | None = None) -> str:
    """Write ``head`` to ``path`` (plain tensors, ints, floats and strings); return the path."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": dict(head.config),
        "state_dict": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "training": dict(training or {}),
    }
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return str(path)


ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def _first_sentence(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text.split(". ")[0].rstrip(".")[:160] or type(exc).__name__


def load_head(path: str | os.PathLike, backbone: str | None = None, device: Any = "cpu") -> AttentionHead:
    """Read a head written by :func:`save_head` (``weights_only=True``) onto ``device``.

    Any unreadable, truncated or foreign file raises :class:`CheckpointError` with a one-line
    message; so does a head trained for a backbone other than ``backbone`` (when given).
    """
    path = check_weights_file(path, "xCos head file")  # missing, a folder, a FIFO, a symlink loop
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != ZIP_MAGIC:
        raise CheckpointError(f"{path}: not an xCos head file (not a torch.save archive); make one with "
                              f"`s2w xcos train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, foreign pickle, text file, ...
        raise CheckpointError(f"{path}: not a readable xCos head file: truncated, corrupt, or holding objects "
                              f"other than plain tensors and numbers ({_first_sentence(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an xCos attention head (no format {FORMAT!r} entry); "
                              f"make one with `s2w xcos train`")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: xCos head format version {payload.get('version')!r}, "
                              f"this plugin reads version {VERSION}")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict) or any(k not in config for k in CONFIG_KEYS):
        raise CheckpointError(f"{path}: xCos head file lacks its config ({', '.join(CONFIG_KEYS)}) or state dict")
    if backbone is not None and config["backbone"] and config["backbone"] != backbone:
        raise CheckpointError(f"{path}: this xCos head was trained for backbone {config['backbone']!r} "
                              f"({config['channels']}x{config['height']}x{config['width']} grid), not {backbone!r}")
    try:
        head = AttentionHead(**{k: config[k] for k in CONFIG_KEYS})
        head.load_state_dict(state, strict=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: xCos head weights do not fit its config "
                              f"({_first_sentence(exc)})") from None
    return head.eval().to(device)
