"""What an explainer explains: the similarity of a face to the other face of its pair.

* :func:`pair_units`: both faces' L2-normalised embeddings, from one batched pass without
  gradients: the targets, and their product is the pair's cosine.
* :class:`SimilarityTo`: ``x -> cos(f(x), target)`` with the target detached, so that only ``x``
  is explained; the forward function for Captum, perturbation scores and gradients alike.

Example:
    >>> import torch
    >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
    >>> net = tiny_backbone()
    >>> pair = pair_from_faces(net, *random_faces(2, 16))
    >>> units = pair_units(net, pair)
    >>> cos_a = SimilarityTo(net.embed, units[1:])(pair.a)
    >>> bool(torch.allclose(cos_a, (units[0] * units[1]).sum(), atol=1e-6))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def pair_units(backbone: Any, pair: Any) -> torch.Tensor:
    """``(2, D)``: the unit embeddings of ``pair.a`` and ``pair.b``, detached (one pass)."""
    with torch.no_grad():
        return backbone.embed(torch.cat([pair.a.detach(), pair.b.detach()])).detach()


class SimilarityTo:
    """``x -> cos(f(x), target)``: one similarity per row of ``x``, ``(N,)``.

    ``embed`` maps faces to L2-normalised embeddings (a backbone's :meth:`embed`); ``target``
    is the other face's L2-normalised embedding, ``(1, D)`` for every row or ``(N, D)`` one
    per row, detached.

    Example:
        >>> import torch
        >>> target = torch.tensor([[1.0, 0.0]])
        >>> SimilarityTo(lambda x: x, target)(torch.tensor([[0.6, 0.8], [0.0, 1.0]]))
        tensor([0.6000, 0.0000])
    """

    def __init__(self, embed: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor) -> None:
        self.embed = embed
        self.target = target.detach()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (self.embed(x) * self.target).sum(dim=1)
