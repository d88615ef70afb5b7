"""What removed pixels become: the one place that builds fills, in the backbone's input space.

Erasing (Sim2Word), the deletion and replacement metrics, the Grad-CAM family's baselines and
RISE's masks all mix a face with a fill where the backbone reads it, ``x * (1 - m) + s * m``,
which equals erasing the pixels because :meth:`~s2w_toolkit.backbones.base.Backbone.preprocess`
is a per-channel affine map (see :class:`~s2w_toolkit.backbones.base.PreprocessParams`).

Fills: ``black`` (0), ``mean`` (the face's mean colour), ``noise`` (uniform 0..255 from a
seeded generator, the same for every run), ``blur`` (the face blurred with a Gaussian of
sigma = 1/20 of its size), each one image per face (:data:`FILL_IMAGES`); and ``road``, ROAD's
noisy linear imputation of each mask's pixels from their neighbours
(:func:`~s2w_toolkit.road.road_impute`), one image per mask (:func:`imputed_inputs`).

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.testing import random_faces, tiny_backbone
    >>> net = tiny_backbone()
    >>> faces = np.full((1, 16, 16, 3), 200, np.uint8)
    >>> int(fill_images(faces, "black").max()), fill_images(faces, "mean")[0, 0, 0].tolist()
    (0, [200, 200, 200])
    >>> x = net.preprocess(random_faces(1))
    >>> black_input(net, x).flatten()[:2].tolist()   # (0 - 127.5) / 127.5
    [-1.0, -1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
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


def fill_inputs(backbone: Any, faces: np.ndarray, fill: str, seed: int, like: torch.Tensor) -> torch.Tensor:
    """The preprocessed fill of each face ``(N, H, W, 3)``: ``(N, 3, H, W)`` on ``like``'s
    device and dtype (a fill of :data:`FILL_IMAGES`)."""
    return backbone.preprocess(fill_images(faces, fill, seed)).to(like.device, like.dtype)


def imputed_inputs(backbone: Any, face: np.ndarray, masks: torch.Tensor, seed: int, like: torch.Tensor) -> torch.Tensor:
    """ROAD's imputation of ``face`` under each of ``masks`` ``(M, H, W)``, preprocessed by
    ``backbone``: ``(M, 3, H, W)`` on ``like``'s device and dtype. The noise of each mask is
    seeded by ``seed`` and the mask's own pixels, so it does not depend on the batch."""
    from .road import road_impute

    imputed = road_impute(np.asarray(face), masks.detach().cpu().numpy(), seed=seed)
    return backbone.preprocess(imputed).to(like.device, like.dtype)


def fill_sources(backbone: Any, face: np.ndarray, masks: torch.Tensor, fill: str, seed: int,
                 like: torch.Tensor) -> torch.Tensor:
    """The preprocessed images removed pixels of ``face`` take, ``(M or 1, 3, H, W)`` like
    ``like``: with ``road`` one imputed image per mask (all masks at once, so the noise does not
    depend on the batch size), else one fill image for every mask."""
    if fill == "road":
        return imputed_inputs(backbone, face, masks, seed, like)
    if fill not in FILL_IMAGES:
        raise ValueError(f"unknown fill {fill!r}; use one of {('road', *FILL_IMAGES)}")
    return fill_inputs(backbone, np.asarray(face)[None], fill, seed, like)


def black_input(backbone: Any, like: torch.Tensor) -> torch.Tensor:
    """A black face in the backbone's input space, ``(1, 3, H, W)`` like ``like``."""
    zeros = np.zeros((1, int(like.shape[-2]), int(like.shape[-1]), 3), dtype=np.uint8)
    return fill_inputs(backbone, zeros, "black", 0, like)
