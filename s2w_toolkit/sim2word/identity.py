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

from ..attributes.cam import gradcam, normalise_maps
from ..backbone import Backbone

STRATEGIES = ("topk", "threshold")


@dataclass
class IdentityMaps:
    """Own- and other-identity Grad-CAMs of a pair, ``(2, H, W)`` each, and how they were made."""

    own: torch.Tensor
    other: torch.Tensor
    embeddings: torch.Tensor
    strategy: str
    classes: list[list[int]] = field(default_factory=list)
    degenerate: bool = False


def features_and_embeddings(backbone: Backbone, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CAM layer's output and the raw embeddings of ``x``, in one forward pass with grad."""
    seen = {}
    hook = backbone.cam_layer.register_forward_hook(lambda m, a, out: seen.update(out=out))
    try:
        with torch.enable_grad():
            embeddings = backbone(x.detach())
    finally:
        hook.remove()
    return seen["out"], embeddings


def _classes(probs: torch.Tensor, strategy: str, top_k: int, prob_threshold: float) -> list[int]:
    order = torch.argsort(probs, descending=True)
    if strategy == "topk":
        return order[:top_k].tolist()
    cumulative = torch.cumsum(probs[order], dim=0)
    count = int((cumulative < prob_threshold).sum().item()) + 1
    return order[:count].tolist()


def identity_maps(backbone: Backbone, x: torch.Tensor, strategy: str = "topk", top_k: int = 1,
                  prob_threshold: float = 0.4) -> IdentityMaps:
    """The identity maps of a pair ``x`` ``(2, 3, H, W)``; see the module docs."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown identity strategy {strategy!r}; use one of {STRATEGIES}")
    features, embeddings = features_and_embeddings(backbone, x)
    with torch.enable_grad():
        if backbone.num_classes > 0:
            logits = backbone.classify(embeddings)
            probs = torch.softmax(logits.detach(), dim=1)
            classes = [_classes(p, strategy, top_k, prob_threshold) for p in probs]
            union = list(dict.fromkeys(classes[0] + classes[1]))
            cams = gradcam(features, logits[:, union])
            pick = [[union.index(c) for c in group] for group in classes]
            own = torch.stack([cams[i, pick[i]].mean(0) for i in range(2)])
            other = torch.stack([cams[i, pick[1 - i]].mean(0) for i in range(2)])
            degenerate, used = classes[0][0] == classes[1][0], "classes"
        else:
            directions = F.normalize(embeddings.detach(), dim=1)
            # scores[i, j] = <f(x_i), e_j> on the raw embedding: its gradient is e_j. (The cosine
            # would be flat at its maximum for j = i: its gradient vanishes there.)
            scores = embeddings @ directions.T
            cams = gradcam(features, scores)
            own, other = cams[[0, 1], [0, 1]], cams[[0, 1], [1, 0]]
            classes, used = [], "embedding"
            degenerate = bool((directions[0] @ directions[1]).item() > 0.9999)
    size = tuple(x.shape[2:])
    up = F.interpolate(torch.stack([own, other], dim=1), size=size, mode="bilinear", align_corners=False)
    up = normalise_maps(up.clamp_min(0))
    return IdentityMaps(own=up[:, 0], other=up[:, 1], embeddings=embeddings.detach(), strategy=used,
                        classes=classes, degenerate=degenerate)


def counterfactual_map(own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """H_d = minmax(H_t * (max(H_f) - H_f)) per image: where the target looks like itself and
    not like the other face."""
    peak = other.flatten(1).max(dim=1).values.view(-1, 1, 1)
    return normalise_maps((own * (peak - other)).unsqueeze(1))[:, 0]
