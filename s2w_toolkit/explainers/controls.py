"""Content-free controls: maps that look at nothing, which every benchmark runs beside the explainers.

* ``random``: i.i.d. uniform values on a ``grid`` x ``grid`` lattice over the face, upsampled
  bilinearly (``grid=0``: one value per pixel, which orders pixels like the benchmark's
  scattered-pixel control). Seeded by ``seed`` and by the pair's pixels, so each pair (and each
  side) gets its own map and a rerun gets the same one.
* ``centre``: a Gaussian blob centred on the face box of the backbone's alignment template,
  with standard deviation ``sigma`` times the box's width; the same for every pair.

An explainer that does not beat both on a metric has not shown that its maps carry
information about the model on that metric.

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> r, c = RandomMapExplainer().explain(pair, net), CentreBlobExplainer().explain(pair, net)
    >>> r.maps["a"].shape, bool((r.maps["a"] != r.maps["b"]).any()), bool((c.maps["a"] == c.maps["b"]).all())
    ((150, 150), True, True)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .explanation import Explanation
from ..interfaces import Explainer, Pair
from ..options import BaseOptions


def _score(pair: Pair, backbone) -> float:
    with torch.no_grad():
        return float(backbone.similarity(pair.a, pair.b).item())


@dataclass(frozen=True)
class RandomMapOptions(BaseOptions):
    """Options of the ``random`` control.

    Example:
        >>> RandomMapOptions(grid=0).grid
        0
    """

    grid: int = field(default=8, metadata={"help": "cells per side of the random lattice (0: one per pixel)",
                                           "min": 0})


class RandomMapExplainer(Explainer):
    """A seeded i.i.d. uniform map per side: the control for "better than chance".

    Example:
        >>> RandomMapExplainer(grid="4", seed="1").options
        RandomMapOptions(batch_size=64, seed=1, grid=4)
    """

    name = "random"
    control = True
    Options = RandomMapOptions

    def explain(self, pair: Pair, backbone, attributes=None) -> Explanation:
        h, w = pair.image_a.shape[:2]
        maps = {}
        for side, face in (("a", pair.image_a), ("b", pair.image_b)):
            rng = np.random.default_rng([self.options.seed, zlib.crc32(np.ascontiguousarray(face).tobytes()),
                                         ord(side)])
            if self.options.grid == 0:
                maps[side] = rng.random((h, w))
                continue
            cells = torch.from_numpy(rng.random((1, 1, self.options.grid, self.options.grid)))
            maps[side] = F.interpolate(cells, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
        return Explanation(score=_score(pair, backbone), maps=maps, explainer=self.name,
                           metadata={"control": "i.i.d. uniform", "grid": self.options.grid})


@dataclass(frozen=True)
class CentreBlobOptions(BaseOptions):
    """Options of the ``centre`` control.

    Example:
        >>> CentreBlobOptions().sigma
        0.25
    """

    sigma: float = field(default=0.25, metadata={"help": "blob width as a fraction of the face box width",
                                                 "min": 0.01})


def centre_blob(template, size: tuple[int, int], sigma: float = 0.25) -> np.ndarray:
    """A Gaussian ``(H, W)`` centred on ``template.face_box()`` with std ``sigma`` x the box width.

    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> blob = centre_blob(dlib_chip_template(150), (150, 150))
    >>> np.unravel_index(blob.argmax(), blob.shape)
    (np.int64(75), np.int64(75))
    """
    left, top, right, bottom = template.face_box()
    cx, cy = (left + right) / 2, (top + bottom) / 2
    std = sigma * (right - left)
    ys, xs = np.mgrid[0:size[0], 0:size[1]]  # pixel i is centred on coordinate i, as landmarks are
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * std ** 2))


class CentreBlobExplainer(Explainer):
    """A Gaussian blob on the centre of the template's face box: the control for "better than a
    prior that the middle of the face matters".

    Example:
        >>> CentreBlobExplainer(sigma="0.5").options.sigma
        0.5
    """

    name = "centre"
    control = True
    Options = CentreBlobOptions

    def explain(self, pair: Pair, backbone, attributes=None) -> Explanation:
        blob = centre_blob(backbone.template, pair.image_a.shape[:2], self.options.sigma)
        return Explanation(score=_score(pair, backbone), maps={"a": blob, "b": blob}, explainer=self.name,
                           metadata={"control": "centre blob", "sigma": self.options.sigma})
