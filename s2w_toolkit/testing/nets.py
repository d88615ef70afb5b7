"""Tiny networks and faces for fast plugin tests, and making random networks look trained.

Example:
    >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
    >>> net = tiny_backbone(size=16)
    >>> pair = pair_from_faces(net, *random_faces(2, 16, seed=1))
    >>> pair.a.shape, net.embedding_dim, net.similarity(pair.a, pair.a).item() > 0.999
    (torch.Size([1, 3, 16, 16]), 8, True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..interfaces import Pair


def randomise_batch_norm(net: nn.Module, weight: tuple[float, float] | None = None) -> nn.Module:
    """Non-trivial batch-norm statistics and shifts, as a trained model has; ``weight`` also
    draws the scales from that range (small scales keep deep nets' activations bounded).
    Returns ``net`` in eval mode; draws from torch's global generator (seed it first)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                if weight is not None:
                    m.weight.uniform_(*weight)
    return net.eval()


def tiny_backbone(size: int = 16, seed: int = 0) -> nn.Module:
    """A three-layer convolutional embedding (dimension 8) wrapped as a ``Backbone`` for
    ``size`` x ``size`` faces: the same weights for the same ``seed``; its ``cam_layer`` is the
    last convolution."""
    from ..backbones.wrapped import wrap_module

    generator = torch.Generator().manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())
    with torch.no_grad():
        for p in body.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return wrap_module(body, input_size=(size, size), name="tiny-conv").eval()


def random_faces(n: int = 2, size: int = 16, seed: int = 0) -> np.ndarray:
    """``n`` random RGB uint8 "faces" ``(n, size, size, 3)``."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def pair_from_faces(backbone: nn.Module, face_a: np.ndarray, face_b: np.ndarray) -> Pair:
    """A :class:`Pair` of two aligned RGB uint8 faces, preprocessed by ``backbone``."""
    x = backbone.preprocess(np.stack([face_a, face_b]))
    return Pair(a=x[:1], b=x[1:], image_a=face_a, image_b=face_b)
