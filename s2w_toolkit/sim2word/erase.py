"""Erasing regions of aligned faces, done where the backbone reads them.

All backbones preprocess with a per-channel affine map of the pixels, so a region is erased
by replacing it with the preprocessed fill image: erased batches are built on the device with
``torch.where``, never going back to pixels.

Fills: ``black`` (0), ``mean`` (the face's mean colour), ``noise`` (uniform 0..255 from a
seeded generator, the same for every run), ``blur`` (the face blurred with a Gaussian of
sigma = 1/20 of its size), each one image per face (:data:`FILL_IMAGES`); and ``road``, ROAD's
noisy linear imputation of each mask's pixels from their neighbours
(:func:`~s2w_toolkit.road.road_impute`), one image per mask (:func:`imputed_sources`).

Example:
    >>> import numpy as np, torch
    >>> faces = np.full((1, 8, 8, 3), 200, np.uint8)
    >>> int(fill_images(faces, "black").max()), fill_images(faces, "mean")[0, 0, 0].tolist()
    (0, [200, 200, 200])
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

import numpy as np
import torch
import torch.nn.functional as F
from skimage.filters import gaussian

#: Fills that are one image per face; :data:`FILLS` adds ``road``, one image per mask.
FILL_IMAGES = ("black", "mean", "noise", "blur")
FILLS = (*FILL_IMAGES, "road")


def fill_images(faces: np.ndarray, fill: str = "black", seed: int = 0) -> np.ndarray:
    """What erased pixels become, per face: uint8 ``(N, H, W, 3)``."""
    faces = np.asarray(faces, dtype=np.uint8)
    if fill == "black":
        return np.zeros_like(faces)
    if fill == "mean":
        means = faces.reshape(len(faces), -1, 3).mean(axis=1)
        return np.broadcast_to(np.rint(means)[:, None, None, :], faces.shape).astype(np.uint8)
    if fill == "noise":
        return np.random.default_rng(seed).integers(0, 256, faces.shape, dtype=np.uint8)
    if fill == "blur":
        sigma = faces.shape[1] / 20
        blurred = [gaussian(face, sigma=sigma, channel_axis=-1, preserve_range=True) for face in faces]
        return np.clip(np.rint(np.stack(blurred)), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown fill {fill!r}; use one of {FILL_IMAGES}")


def imputed_sources(backbone, face: np.ndarray, masks: torch.Tensor, seed: int, like: torch.Tensor) -> torch.Tensor:
    """ROAD's imputation of ``face`` under each of ``masks`` ``(M, H, W)``, preprocessed by
    ``backbone``: ``(M, 3, H, W)`` on ``like``'s device and dtype. The noise of each mask is
    seeded by ``seed`` and the mask's own pixels, so it does not depend on the batch."""
    from ..road import road_impute

    imputed = road_impute(np.asarray(face), masks.detach().cpu().numpy(), seed=seed)
    return backbone.preprocess(imputed).to(like.device, like.dtype)


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
