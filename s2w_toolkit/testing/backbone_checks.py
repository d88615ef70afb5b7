"""The ``Backbone`` contract as one check, for the built-in backbones and a plugin's own.

:func:`check_backbone` asserts what the rest of the toolkit relies on:

* :meth:`~s2w_toolkit.backbones.base.Backbone.preprocess` is the per-channel affine map that
  :meth:`~s2w_toolkit.backbones.base.Backbone.preprocess_params` states, so that mixing two
  preprocessed faces under a mask equals preprocessing the mixed pixels (how erasing, the
  deletion metrics, baselines and fills work);
* ``forward`` gives ``(N, embedding_dim)`` rows that do not depend on the rest of the batch,
  and :meth:`~s2w_toolkit.backbones.base.Backbone.embed` unit rows;
* :attr:`~s2w_toolkit.backbones.base.Backbone.cam_layer` is a submodule that outputs a spatial
  map ``(N, C, h, w)`` with ``h * w > 1`` during that forward pass.

Example:
    >>> from s2w_toolkit.testing import check_backbone, tiny_backbone
    >>> check_backbone(tiny_backbone())   # passes: None
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..capture import recording


def check_backbone(backbone: Any, atol: float = 1e-4, seed: int = 0) -> None:
    """Raise ``AssertionError`` naming the first broken part of the contract (see above)."""
    height, width = backbone.input_size
    rng = np.random.default_rng(seed)
    faces = rng.integers(0, 256, (2, height, width, 3), dtype=np.uint8)
    x = backbone.preprocess(faces)
    assert tuple(x.shape) == (2, 3, height, width), f"preprocess gives {tuple(x.shape)}, not (2, 3, {height}, {width})"
    pixels = torch.as_tensor(faces, device=x.device).permute(0, 3, 1, 2).float()
    stated = backbone.preprocess_params().apply(pixels)
    assert torch.allclose(x, stated, atol=atol), "preprocess is not the map preprocess_params() states"
    mask = torch.as_tensor(rng.random((height, width)) < 0.5, device=x.device)
    mixed = np.where(mask.cpu().numpy()[..., None], faces[0], faces[1])
    assert torch.allclose(backbone.preprocess(mixed)[0], torch.where(mask, x[0], x[1]), atol=atol), \
        "preprocess is not per-pixel: a mixed face is not the mix of the preprocessed faces"
    cam = backbone.cam_layer
    assert any(module is cam for module in backbone.modules()), "cam_layer is not a submodule of the backbone"
    with torch.no_grad():
        with recording({"cam": cam}) as seen:
            both = backbone(x)
        single = backbone(x[:1])
    assert tuple(both.shape) == (2, backbone.embedding_dim), \
        f"forward gives {tuple(both.shape)}, not (2, {backbone.embedding_dim})"
    assert torch.allclose(both[:1], single, atol=atol, rtol=1e-4), "an embedding depends on the rest of the batch"
    with torch.no_grad():
        norms = backbone.embed(x).norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4), "embed does not give unit rows"
    maps = [m for m in seen["cam"] if isinstance(m, torch.Tensor)]
    assert maps, "cam_layer does not run in a forward pass"
    shape = tuple(maps[-1].shape)
    assert len(shape) == 4 and shape[2] * shape[3] > 1, f"cam_layer outputs {shape}, not a spatial map (N, C, h, w)"
