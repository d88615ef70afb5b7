"""Identity maps: where each face looks like itself, and where it looks like the other face.

For a pair ``x = [T_a, T_b]`` (preprocessed, one backward pass for all maps):

* with an identification head (``backbone.num_classes > 0``), the identity of an image is its
  top-k classes (``strategy="topk"``, k = ``top_k``) or the smallest set of classes whose
  cumulative softmax probability exceeds ``prob_threshold`` (``strategy="threshold"``); a map
  is the average of the Grad-CAMs of those classes' logits;
* without one, the identity of an image is the direction ``e`` of its own embedding and the
  Grad-CAM target is ``<f(x), e>``, the raw embedding's projection on it (not the cosine, which
  is flat where ``f(x)`` points along ``e``).

``own[i]`` is the Grad-CAM on image i of its own identity (H_t when i is the target),
``other[i]`` that on image i of the other image's identity (H_f). Maps are in [0, 1] at the
input resolution.

Example:
    >>> import torch
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> maps = identity_maps(net, torch.randn(2, 3, 150, 150))
    >>> maps.own.shape, maps.other.shape, maps.strategy
    (torch.Size([2, 150, 150]), torch.Size([2, 150, 150]), 'embedding')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..cam import gradcam, normalise_maps
from ..capture import output_as_leaf
from ..backbones.base import Backbone
from ..targets import class_scores, contrastive_scores, projection_scores

STRATEGIES = ("topk", "threshold")


@dataclass
class IdentityMaps:
    """Own- and other-identity Grad-CAMs of a pair, ``(2, H, W)`` each, and how they were made.

    Example:
        >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
        >>> net = tiny_backbone()
        >>> pair = pair_from_faces(net, *random_faces(2, 16))
        >>> maps = identity_maps(net, torch.cat([pair.a, pair.b]))
        >>> tuple(maps.own.shape), maps.strategy, bool(maps.other.max() <= 1)
        ((2, 16, 16), 'embedding', True)
    """

    own: torch.Tensor
    other: torch.Tensor
    embeddings: torch.Tensor
    strategy: str
    classes: list[list[int]] = field(default_factory=list)
    degenerate: bool = False
    contrast: torch.Tensor | None = None  # (2, H, W): where each image is like itself and not the other


def features_and_embeddings(backbone: Backbone, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CAM layer's output and the raw embeddings of ``x``, in one forward pass.

    Autograd records only what comes after the CAM layer: the layer's output is swapped for a
    leaf that requires grad, and the weights do not require grad during the pass, so the
    layers before it run as plain inference."""
    frozen = [p for p in backbone.parameters() if p.requires_grad]
    try:
        for p in frozen:
            p.requires_grad_(False)
        with torch.enable_grad():
            features, embeddings = output_as_leaf(backbone, backbone.cam_layer, x.detach())
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return features, embeddings


def _classes(probs: torch.Tensor, strategy: str, top_k: int, prob_threshold: float) -> list[int]:
    order = torch.argsort(probs, descending=True)
    if strategy == "topk":
        return order[:top_k].tolist()
    cumulative = torch.cumsum(probs[order], dim=0)
    count = int((cumulative < prob_threshold).sum().item()) + 1
    return order[:count].tolist()


def identity_cams(backbone: Backbone, x: torch.Tensor, others: torch.Tensor | None = None, strategy: str = "topk",
                  top_k: int = 1, prob_threshold: float = 0.4, contrastive: bool = False,
                  batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list, str, torch.Tensor | None]:
    """Grad-CAMs on each image of ``x`` ``(n, 3, H, W)`` of every identity: the n images' own,
    then those of ``others`` (raw embeddings ``(m, D)`` of further faces). Returns the maps
    ``(n, n + m, H, W)`` in [0, 1], the raw embeddings of ``x``, the classes used per identity
    (empty without a head), the strategy used, and with ``contrastive`` the contrastive maps
    ``(n, n + m, H, W)``: on image i, the Grad-CAM of its own identity's target minus identity
    k's (``<f(x_i), e_k>`` with ``e_k`` detached, or the difference of the two class scores),
    where x_i looks like itself and not like k (zero for k = i); else None. One backward pass
    per chunk of ``batch_size`` images (default: all at once); each image's targets depend on
    its own forward pass only, so the chunks change nothing but the memory used."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown identity strategy {strategy!r}; use one of {STRATEGIES}")
    n = len(x)
    size = max(1, batch_size or n)
    detached = None
    if n > size:  # every identity's embedding first, for the targets of each chunk
        with torch.no_grad():
            detached = torch.cat([backbone(x[s:s + size].detach()) for s in range(0, n, size)]).detach()
    cams, embedded = [], []
    for start in range(0, n, size):
        features, embeddings = features_and_embeddings(backbone, x[start:start + size])
        every = embeddings.detach() if detached is None else detached
        other = every.new_zeros((0, every.shape[1])) if others is None else others.detach()
        chunk, classes, used = _chunk_cams(backbone, features, embeddings, every, other, start, strategy, top_k,
                                           prob_threshold, contrastive)
        cams.append(chunk)
        embedded.append(embeddings.detach())
    up = F.interpolate(torch.cat(cams), size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)
    maps = normalise_maps(up.clamp_min(0))
    k = maps.shape[1] // 2 if contrastive else maps.shape[1]
    return maps[:, :k], torch.cat(embedded), classes, used, maps[:, k:] if contrastive else None


def _chunk_cams(backbone: Backbone, features: torch.Tensor, embeddings: torch.Tensor, every: torch.Tensor,
                others: torch.Tensor, start: int, strategy: str, top_k: int, prob_threshold: float,
                contrastive: bool) -> tuple[torch.Tensor, list, str]:
    """The CAMs of the images ``start:start + len(embeddings)`` of :func:`identity_cams`;
    ``every``: all n images' embeddings, detached."""
    own = start + torch.arange(len(embeddings))
    with torch.enable_grad():
        if backbone.num_classes > 0:
            logits = backbone.classify(embeddings)
            with torch.no_grad():
                probs = torch.softmax(torch.cat([backbone.classify(every), backbone.classify(others)]), dim=1)
            classes = [_classes(p, strategy, top_k, prob_threshold) for p in probs]
            union = list(dict.fromkeys(c for group in classes for c in group))
            targets = logits[:, union]
            if contrastive:  # the mean logit of each identity's classes, own minus the other's
                targets = torch.cat([targets, contrastive_scores(class_scores(logits, classes), own)], dim=1)
            maps = gradcam(features, targets)
            cams = torch.stack([maps[:, [union.index(c) for c in group]].mean(1) for group in classes], dim=1)
            if contrastive:
                cams = torch.cat([cams, maps[:, len(union):]], dim=1)
            return cams, classes, "classes"
        # <f(x_i), e_k> on the raw embedding: its gradient is e_k. (The cosine would be flat at
        # its maximum for k = i: its gradient vanishes there.)
        targets = projection_scores(embeddings, torch.cat([every, others]))
        if contrastive:
            targets = torch.cat([targets, contrastive_scores(targets, own)], dim=1)
        return gradcam(features, targets), [], "embedding"


def identity_maps(backbone: Backbone, x: torch.Tensor, strategy: str = "topk", top_k: int = 1,
                  prob_threshold: float = 0.4, contrastive: bool = False) -> IdentityMaps:
    """The identity maps of a pair ``x`` ``(2, 3, H, W)``; see the module docs. With
    ``contrastive`` the result's ``contrast`` holds, per image, the contrastive map against
    the other image (:func:`identity_cams`)."""
    maps, embeddings, classes, used, contrast = identity_cams(backbone, x, None, strategy, top_k, prob_threshold,
                                                              contrastive)
    if classes:
        degenerate = classes[0][0] == classes[1][0]
    else:
        units = F.normalize(embeddings, dim=1)
        degenerate = bool((units[0] @ units[1]).item() > 0.9999)
    return IdentityMaps(own=maps[[0, 1], [0, 1]], other=maps[[0, 1], [1, 0]], embeddings=embeddings,
                        strategy=used, classes=classes, degenerate=degenerate,
                        contrast=None if contrast is None else contrast[[0, 1], [1, 0]])


def counterfactual_map(own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """H_d = minmax(H_t * (max(H_f) - H_f)) per image: where the target looks like itself and
    not like the other face."""
    peak = other.flatten(1).max(dim=1).values.view(-1, 1, 1)
    return normalise_maps((own * (peak - other)).unsqueeze(1))[:, 0]
