"""Erasing regions of aligned faces, done where the backbone reads them.

All backbones preprocess with a per-channel affine map of the pixels, so a region is erased
by replacing it with the preprocessed fill image (:mod:`s2w_toolkit.fills`): erased batches are
built on the device with ``torch.where``, never going back to pixels.

Example:
    >>> import torch
    >>> joint = torch.zeros(1, 2, 8, 8); joint[0, 1, 2:4, 2:4] = 0.9
    >>> masks = erase_masks(joint, threshold=0.6, dilate=1)
    >>> masks.sum(dim=(2, 3)).tolist()
    [[0, 16]]
    >>> attr = torch.zeros(1, 2, 8, 8); attr[0, :, :4] = 1.0   # each attribute's region: the top half
    >>> region_masks(joint, attr, fraction=0.25).sum(dim=(2, 3)).tolist()   # a quarter of 32 pixels each
    [[8, 8]]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

def erase_masks(joint: torch.Tensor, threshold: float = 0.6, dilate: int = 0) -> torch.Tensor:
    """Pixels to erase, bool ``(N, A, H, W)``: ``joint > threshold``, grown by ``dilate`` pixels."""
    return grow(joint > threshold, dilate)


def grow(masks: torch.Tensor, dilate: int) -> torch.Tensor:
    """Bool masks ``(N, A, H, W)`` grown by ``dilate`` pixels (a square neighbourhood)."""
    if dilate <= 0:
        return masks
    n, a, h, w = masks.shape
    grown = F.max_pool2d(masks.float().view(n * a, 1, h, w), 2 * dilate + 1, stride=1, padding=dilate)
    return grown.view(n, a, h, w) > 0


def region_masks(joint: torch.Tensor, attribute_maps: torch.Tensor, fraction: float = 0.5,
                 dilate: int = 0) -> torch.Tensor:
    """Pixels to erase, bool ``(N, A, H, W)``: in each attribute's region (its map at least half
    its own maximum), the ``ceil(fraction * region size)`` pixels of highest ``joint`` (ties go to
    the higher attribute map, then to the earlier pixel), grown by ``dilate`` pixels. Every
    attribute with a non-empty map gets a non-empty mask of a stated size, whatever the scale
    of ``joint``; an all-zero map gets an empty one."""
    n, a, h, w = joint.shape
    attr = attribute_maps.to(joint.device).float().flatten(2)
    peak = attr.max(dim=2, keepdim=True).values
    region = (attr >= 0.5 * peak) & (peak > 0)
    count = torch.ceil(region.sum(dim=2).float() * fraction).long()  # (N, A)
    score = torch.where(region, joint.flatten(2).float() + 1e-6 * attr, torch.full_like(attr, -math.inf))
    order = torch.argsort(score, dim=2, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(2, order, torch.arange(h * w, device=joint.device).expand_as(order).contiguous())
    return grow((ranks < count[:, :, None]).view(n, a, h, w), dilate)
