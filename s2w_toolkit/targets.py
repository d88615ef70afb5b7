"""What an explainer explains: the scores whose gradients or changes make the maps.

* :func:`unit_embeddings`, :func:`pair_units`: L2-normalised embeddings from one batched pass
  without gradients: the targets, and the product of a pair's two is its cosine.
* :class:`SimilarityTo`: ``x -> <f(x)/|f(x)|, target>`` with the target detached, so that only
  ``x`` is explained; the forward function for Captum, perturbation scores and gradients
  alike. A target masked to some embedding dimensions gives their part of the cosine (xSSAB).
* :func:`projection_scores`: ``<f(x_i), e_k>``, the raw embedding's projection on identity
  directions (Sim2Word's identity maps without a classifier head).
* :func:`contrastive_scores`: each row's score of its own identity minus that of every
  identity: where a face looks like itself and not like the other.
* :func:`class_scores`: the mean logit of each identity's classes; :func:`chosen_scores`: each
  face's score of its chosen class (an attribute head's word).

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
import torch.nn.functional as F


def unit_embeddings(backbone: Any, x: torch.Tensor) -> torch.Tensor:
    """``(N, D)``: the unit embeddings of the preprocessed faces ``x``, detached (one pass)."""
    with torch.no_grad():
        return backbone.embed(x.detach()).detach()


def pair_units(backbone: Any, pair: Any) -> torch.Tensor:
    """``(2, D)``: the unit embeddings of ``pair.a`` and ``pair.b``, detached (one pass)."""
    return unit_embeddings(backbone, torch.cat([pair.a, pair.b]))


def projection_scores(embeddings: torch.Tensor, identities: torch.Tensor) -> torch.Tensor:
    """``(N, K)``: ``<f(x_i), e_k>`` of raw embeddings ``(N, D)`` on the unit directions of
    ``identities`` ``(K, D)`` (detached). Unlike the cosine, it is not flat where ``f(x)``
    points along ``e``, so its gradient does not vanish for a face's own identity.

    Example:
        >>> import torch
        >>> projection_scores(torch.tensor([[3.0, 4.0]]), torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        tensor([[3., 4.]])
    """
    return embeddings @ F.normalize(identities.detach(), dim=1).T


def contrastive_scores(scores: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """``(N, K)``: row i's score of its own identity ``own[i]`` minus its score of identity k
    (zero for k = own[i]): the contrastive direction.

    Example:
        >>> import torch
        >>> contrastive_scores(torch.tensor([[5.0, 2.0], [1.0, 4.0]]), torch.tensor([0, 1]))
        tensor([[0., 3.],
                [3., 0.]])
    """
    rows = torch.arange(len(scores), device=scores.device)
    return scores[rows, own][:, None] - scores


def class_scores(logits: torch.Tensor, groups: list[list[int]]) -> torch.Tensor:
    """``(N, G)``: per row of ``logits`` ``(N, C)``, the mean logit of each group of classes
    (an identity's top classes).

    Example:
        >>> import torch
        >>> class_scores(torch.tensor([[1.0, 3.0, 8.0]]), [[0, 1], [2]])
        tensor([[2., 8.]])
    """
    pick = logits.new_zeros((len(groups), logits.shape[1]))
    for k, group in enumerate(groups):
        pick[k, group] = 1.0 / len(group)
    return logits @ pick.T


def chosen_scores(scores: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``(N,)``: row i's score of its chosen class ``classes[i]`` (an attribute head's word).

    Example:
        >>> import torch
        >>> chosen_scores(torch.tensor([[0.2, 0.8], [0.9, 0.1]]), torch.tensor([1, 0]))
        tensor([0.8000, 0.9000])
    """
    return scores.gather(1, classes.view(-1, 1).long())[:, 0]


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
        return self.of_embeddings(self.embed(x))

    def of_embeddings(self, embedded: torch.Tensor) -> torch.Tensor:
        """The scores of faces already embedded, ``(N, D)`` unit rows (one forward pass shared
        by several targets)."""
        return (embedded * self.target).sum(dim=1)
