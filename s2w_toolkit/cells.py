"""Comparing two faces' feature maps cell by cell (xCos, AVSL-style attribution): the cosine
of corresponding cells and the weight of each cell by the product of their norms.

Both take ``(..., C, h, w)`` tensors (a batch ``(N, C, h, w)`` or one face ``(C, h, w)``) and
return ``(..., h, w)``.

Example:
    >>> import torch
    >>> a, b = torch.ones(2, 3, 2, 2), torch.ones(2, 3, 2, 2)
    >>> b[:, :, 0, 0] = -1
    >>> cell_cosines(a, b)[0].tolist(), norm_weights(a, b)[0].sum().item()
    ([[-1.0, 1.0], [1.0, 1.0]], 1.0)
"""

from __future__ import annotations

import torch

EPS = 1e-12


def cell_cosines(a: torch.Tensor, b: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Cosine of corresponding cells over the channel dimension (-3), in [-1, 1]; 0 where a
    cell of either map is (near) zero."""
    dot = (a * b).sum(dim=-3)
    norms = a.norm(dim=-3) * b.norm(dim=-3)
    return torch.where(norms > eps, dot / norms.clamp_min(eps), torch.zeros_like(dot)).clamp(-1.0, 1.0)


def norm_weights(a: torch.Tensor, b: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``w_ij ∝ ||a_ij|| ||b_ij||``, summing to 1 over each map's cells (no softmax); uniform
    where both maps are zero everywhere."""
    weight = a.norm(dim=-3) * b.norm(dim=-3)
    total = weight.sum(dim=(-2, -1), keepdim=True)
    uniform = torch.full_like(weight, 1.0 / (weight.shape[-1] * weight.shape[-2]))
    return torch.where(total > eps, weight / total.clamp_min(eps), uniform)
