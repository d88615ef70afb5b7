"""A separate identity model for Sim2Word's identity maps, as the official code has (a VGGFace2
classifier for the Grad-CAMs, CosFace for re-scoring).

The faces are aligned to the explained backbone's template. The identity model may expect
another crop and size, so each face is warped from the backbone's template to the identity
model's by the similarity transform that maps one template's eye centres onto the other's, and
the identity maps are warped back the same way (zero where the identity model's crop does not
reach). Scores and erasures stay the backbone's.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.faces.templates import arcface_template, dlib_chip_template
    >>> src, dst = dlib_chip_template(150), arcface_template(112)
    >>> faces = np.random.default_rng(0).integers(0, 255, (2, 150, 150, 3), dtype=np.uint8)
    >>> to_template(faces, src, dst).shape, maps_back(np.ones((2, 3, 112, 112)), src, dst).shape
    ((2, 112, 112, 3), (2, 3, 150, 150))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skimage.transform import SimilarityTransform, warp

from .identity import identity_cams


def _eyes(template: Any) -> np.ndarray:
    return np.stack([template.points[list(group)].mean(axis=0) for group in template.eyes])


def _transform(output: Any, source: Any) -> SimilarityTransform:
    """The map from ``output``'s pixels to ``source``'s (what :func:`skimage.transform.warp` takes)."""
    return SimilarityTransform.from_estimate(_eyes(output), _eyes(source))


def to_template(faces: np.ndarray, src: Any, dst: Any) -> np.ndarray:
    """Aligned faces ``(N, H, W, 3)`` (uint8) in template ``src`` warped to template ``dst``."""
    tform = _transform(dst, src)
    out = [warp(face, tform, output_shape=tuple(dst.size), order=1, mode="edge", preserve_range=True)
           for face in np.asarray(faces)]
    return np.clip(np.rint(np.stack(out)), 0, 255).astype(np.uint8)


def maps_back(maps: Any, src: Any, dst: Any) -> np.ndarray:
    """Maps ``(N, A, h, w)`` in template ``dst`` warped back to template ``src``, ``(N, A, H, W)``;
    zero where ``dst``'s crop does not reach."""
    if hasattr(maps, "detach"):
        maps = maps.detach().cpu().numpy()
    maps = np.asarray(maps, dtype=np.float64)
    n, a = maps.shape[:2]
    tform = _transform(src, dst)
    out = np.zeros((n, a) + tuple(src.size), np.float32)
    for i in range(n):
        for j in range(a):
            out[i, j] = warp(maps[i, j], tform, output_shape=tuple(src.size), order=1, mode="constant", cval=0.0)
    return out


def identity_model_maps(backbone: Any, identity: Any, x: torch.Tensor, faces: np.ndarray,
                        others: torch.Tensor | None, settings: Any, contrastive: bool) -> tuple:
    """:func:`~s2w_toolkit.sim2word.identity.identity_cams` by a separate ``identity`` model on
    the ``faces`` warped to its template, the maps warped back to the backbone's frame; the
    embeddings returned are the backbone's (of ``x``: they score the pair)."""
    x_id = identity.preprocess(to_template(faces, backbone.template, identity.template)).to(identity.device)
    maps, _, classes, strategy, contrast = identity_cams(identity, x_id, others, settings.strategy, settings.top_k,
                                                         settings.prob_threshold, contrastive, settings.batch_size)

    def back(m):
        return None if m is None else torch.from_numpy(maps_back(m, backbone.template, identity.template)).to(x.device)

    with torch.no_grad():
        embeddings = backbone(x)
    return back(maps), embeddings, classes, f"{strategy} ({identity.name})", back(contrast)
