"""Grad-CAM for many heads at once, with as few backward passes as the maths allows (used by the
attribute models, Sim2Word's identity maps and the Grad-CAM baselines).

* Heads that are linear on the global average of the CAM layer (``score = W @ mean(F) + b``)
  have a constant gradient ``W / (h w)`` over the map, so their Grad-CAM is
  ``relu(sum_c W[c] F[c]) / (h w)``: no backward pass at all (:func:`linear_head_cams`).
* Any other scores use one vectorised backward pass for all heads together
  (:func:`gradcam`, ``autograd.grad`` with ``is_grads_batched``).

Maps are min-max normalised per face and head; a map that is zero everywhere stays zero.

Which layer: a backbone names its own (:attr:`~s2w_toolkit.backbones.base.Backbone.cam_layer`);
where it cannot (a wrapped module or an ONNX graph without ``cam_layer=``, the converted
age-gender nets), :func:`find_cam_layer` is the one rule: the last module to finish, in one
forward pass of a zero face, whose output is a spatial map ``(N, C, h, w)`` with ``h * w > 1``.
Modules that only rearrange axes (``nn.Flatten``, ``nn.Unflatten``, pixel and channel
shuffles, ONNX ``Transpose`` and ``Reshape`` nodes) are skipped, and so is a container whose
output is theirs. A module called more than once counts by its last call (what a hook on it
keeps), and the pass runs in eval mode, the module's modes restored after it.

Example:
    >>> import torch
    >>> feats = torch.rand(2, 8, 7, 7, requires_grad=True)
    >>> weight = torch.randn(3, 8)
    >>> scores = feats.mean(dim=(2, 3)) @ weight.T            # three linear heads
    >>> by_grad = gradcam(feats, scores)
    >>> by_form = linear_head_cams(feats.detach(), weight.expand(2, 3, 8))
    >>> by_grad.shape, bool(torch.allclose(by_grad, by_form, atol=1e-5))
    (torch.Size([2, 3, 7, 7]), True)
    >>> from torch import nn
    >>> body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    >>> find_cam_layer(body, (8, 8))   # the ReLU: the last map larger than 1x1
    '1'
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .capture import hooked

#: Modules whose 4-D output need not be a channels-first feature map.
REARRANGING = (nn.Flatten, nn.Unflatten, nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle)
#: The same, as ONNX node types (the ``op_type`` of :mod:`s2w_toolkit.weights.onnx_ops` operators).
REARRANGING_OPS = ("Transpose", "Reshape")


def _rearranges(module: nn.Module) -> bool:
    return isinstance(module, REARRANGING) or getattr(module, "op_type", None) in REARRANGING_OPS


def find_cam_layer(module: nn.Module, input_size: tuple[int, int]) -> str | None:
    """The dotted name of ``module``'s CAM layer by the rule above, from one forward pass of a
    zero ``(1, 3, H, W)`` batch without gradients; None when no submodule gives a spatial map.
    An exception of the forward pass propagates."""
    reference = next(iter([*module.parameters(), *module.buffers()]), None)
    rearranged: list[torch.Tensor] = []  # kept alive, so that identity tests cannot alias
    last: dict[str, tuple[int, bool]] = {}  # each module's last call: (finish order, gives a map)

    def note(name: str, sub: nn.Module, inputs: tuple, out: Any) -> None:
        spatial = (isinstance(out, torch.Tensor) and not _rearranges(sub) and out.ndim == 4
                   and out.shape[2] * out.shape[3] > 1 and not any(out is r for r in rearranged))
        if isinstance(out, torch.Tensor) and _rearranges(sub):
            rearranged.append(out)
        last[name] = (next(counter), spatial)  # a module called twice counts by its last call

    counter = itertools.count()
    modes = {sub: sub.training for sub in module.modules()}
    named = [(name, sub) for name, sub in module.named_modules() if name]
    try:  # in eval mode, so that batch-norm statistics are not updated by the pass
        module.eval()
        with hooked(named, note), torch.no_grad():
            module(torch.zeros(1, 3, *input_size, device=reference.device if reference is not None else None))
    finally:
        for sub, training in modes.items():
            sub.training = training
    spatial = [(order, name) for name, (order, is_map) in last.items() if is_map]
    return max(spatial)[1] if spatial else None


def normalise_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max scale each ``(h, w)`` map of ``(N, A, h, w)`` to [0, 1]; flat maps become 0."""
    flat = maps.flatten(2)
    low, high = flat.min(dim=2, keepdim=True).values, flat.max(dim=2, keepdim=True).values
    span = high - low
    scaled = torch.where(span > 0, (flat - low) / span.clamp_min(1e-12), torch.zeros_like(flat))
    return scaled.view_as(maps)


def linear_head_cams(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Grad-CAMs ``(N, A, h, w)`` of heads linear on pooled ``features`` ``(N, C, h, w)``;
    ``weights`` ``(N, A, C)`` holds, per face, the weight row of each head's target class."""
    cams = F.relu(torch.einsum("nac,nchw->nahw", weights, features))
    return normalise_maps(cams)


def gradcam(features: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Grad-CAMs ``(N, A, h, w)`` of ``scores`` ``(N, A)`` (each face's score depends on that
    face only) at ``features`` ``(N, C, h, w)``, in one batched backward pass."""
    n, a = scores.shape
    one_hot = torch.eye(a, dtype=scores.dtype, device=scores.device).unsqueeze(1).expand(a, n, a)
    (grads,) = torch.autograd.grad(scores, features, grad_outputs=one_hot, is_grads_batched=True,
                                   retain_graph=False)
    alpha = grads.mean(dim=(3, 4))  # (A, N, C)
    cams = F.relu(torch.einsum("anc,nchw->nahw", alpha, features.detach()))
    return normalise_maps(cams)
