"""The xCos quantities on feature grids: patch cosines, attention maps and the xCos score.

For two faces with feature grids ``F_a, F_b`` of shape ``(C, h, w)`` (the backbone's
``cam_layer`` output), cell ``ij`` holds the C-dimensional local features ``F_a[ij]``,
``F_b[ij]``. Then

* patch cosine: ``cos_ij = <F_a[ij], F_b[ij]> / (||F_a[ij]|| ||F_b[ij]||)`` (0 where a cell
  has no features at all);
* attention ``a_ij >= 0`` with ``sum_ij a_ij = 1``;
* ``xCos = sum_ij a_ij cos_ij``.

Training-free attentions: ``uniform`` (``a_ij = 1 / hw``, so xCos is the mean patch cosine)
and ``norms`` (``a_ij ∝ ||F_a[ij]|| ||F_b[ij]||``; then xCos equals
``sum_ij <F_a[ij], F_b[ij]> / sum_ij ||F_a[ij]|| ||F_b[ij]||``).

Example:
    >>> import torch
    >>> fa = torch.rand(1, 16, 4, 4) + 0.1
    >>> cos = patch_cosines(fa, fa)
    >>> bool(torch.allclose(cos, torch.ones(1, 4, 4), atol=1e-5))
    True
    >>> att = norm_attention(fa, torch.rand(1, 16, 4, 4))
    >>> round(att.sum().item(), 5), xcos_score(cos, att).shape
    (1.0, torch.Size([1]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from s2w_toolkit.capture import recording
from s2w_toolkit.cells import cell_cosines, norm_weights

#: Below this a cell's norm product counts as zero (its cosine is then 0, its norm weight 0).
EPS = 1e-12


def cam_grids(backbone: Any, x: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature grids ``(N, C, h, w)`` at ``backbone.cam_layer`` and L2-normalised embeddings
    ``(N, D)`` of preprocessed faces ``x``, from the same forward passes (chunks of
    ``batch_size``), without gradients.

    Example:
        >>> import torch
        >>> from s2w_toolkit import load_backbone
        >>> net = load_backbone("dlib-resnet", device="cpu")
        >>> grids, emb = cam_grids(net, torch.zeros(3, 3, *net.input_size), batch_size=2)
        >>> grids.shape, emb.shape
        (torch.Size([3, 128, 8, 8]), torch.Size([3, 128]))
    """
    grids, embeddings = [], []
    with recording({"cam": backbone.cam_layer}) as seen, torch.no_grad():
        for chunk in x.split(max(1, int(batch_size))):
            seen["cam"].clear()
            embeddings.append(backbone.embed(chunk))
            if not seen["cam"]:
                raise ValueError(f"backbone {backbone.name!r}: its cam_layer did not run in the forward pass")
            grid = seen["cam"][-1]  # a module called several times: its last call is the deepest
            if not isinstance(grid, torch.Tensor) or grid.dim() != 4 or grid.shape[0] != chunk.shape[0]:
                shape = tuple(grid.shape) if isinstance(grid, torch.Tensor) else type(grid).__name__
                raise ValueError(f"backbone {backbone.name!r}: cam_layer output is {shape}; xCos needs a "
                                 f"(N, C, h, w) feature map")
            grids.append(grid.detach().float())
    return torch.cat(grids), torch.cat(embeddings).float()


def face_grids(backbone: Any, faces: np.ndarray, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`cam_grids` of aligned RGB uint8 faces ``(N, H, W, 3)``, preprocessed chunk by
    chunk on the backbone's device."""
    grids, embeddings = [], []
    for start in range(0, len(faces), max(1, int(batch_size))):
        x = backbone.preprocess(faces[start:start + batch_size]).to(backbone.device)
        g, e = cam_grids(backbone, x, batch_size)
        grids.append(g)
        embeddings.append(e)
    return torch.cat(grids), torch.cat(embeddings)


def patch_cosines(grid_a: torch.Tensor, grid_b: torch.Tensor) -> torch.Tensor:
    """Cosine of corresponding cells of ``(N, C, h, w)`` grids: ``(N, h, w)`` in [-1, 1]
    (:func:`s2w_toolkit.cells.cell_cosines`)."""
    return cell_cosines(grid_a, grid_b, EPS)


def uniform_attention(grid_a: torch.Tensor, grid_b: torch.Tensor | None = None) -> torch.Tensor:
    """``1 / (h w)`` in every cell: ``(N, h, w)``."""
    n, _, h, w = grid_a.shape
    return torch.full((n, h, w), 1.0 / (h * w), dtype=grid_a.dtype, device=grid_a.device)


def norm_attention(grid_a: torch.Tensor, grid_b: torch.Tensor) -> torch.Tensor:
    """``a_ij ∝ ||F_a[ij]|| ||F_b[ij]||``, normalised to sum 1 per pair (no softmax); a pair
    whose grids are zero everywhere gets the uniform attention. Shape ``(N, h, w)``
    (:func:`s2w_toolkit.cells.norm_weights`)."""
    return norm_weights(grid_a, grid_b, EPS)


def xcos_score(cosines: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """``sum_ij attention_ij cos_ij`` per pair: ``(N,)``."""
    return (cosines * attention).sum(dim=(-2, -1))


ATTENTIONS = {"norms": norm_attention, "uniform": uniform_attention}
