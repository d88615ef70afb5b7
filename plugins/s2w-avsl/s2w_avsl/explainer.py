"""AVSL, post hoc: the pair's similarity at several depths of the backbone, by level and place.

For each level ``l`` (see :mod:`s2w_avsl.levels`) with features ``A, B`` ``(C, h, w)`` of faces
a and b, cell ``i`` (a spatial position) and ``eps = 1e-12``:

* cell cosine ``c_i = <A_i, B_i> / (||A_i|| ||B_i||)`` (0 where ``||A_i|| ||B_i|| <= eps``);
* cell weight ``omega_i = ||A_i|| ||B_i|| / sum_j ||A_j|| ||B_j||`` (uniform ``1/(h w)`` when the
  sum is ``<= eps``), so ``sum_i omega_i = 1``;
* level cosine ``g_l = cos(mean_i A_i, mean_i B_i)``, the cosine of the globally average-pooled
  features (0 when a pooled vector is zero);
* level weight ``w_l = max(g_l, 0) / sum_m max(g_m, 0)`` (uniform ``1/L`` when no level cosine is
  positive); contribution ``k_l = w_l g_l``; their sum ``sum_l k_l`` is the level-weighted
  similarity, reported next to the backbone's cosine (it is not forced to equal it);
* level map ``M_l[i] = w_l c_i omega_i`` at the level's own resolution; it sums to
  ``w_l sum_i omega_i c_i``;
* combined map ``M = sum_l up(h_l w_l M_l)``, ``up`` = bilinear resizing to the face size (no
  corner alignment). ``h_l w_l M_l`` has mean ``w_l sum_i omega_i c_i``, so levels of different
  resolution add on one scale; the same map is given for both faces (cells correspond).

Reference (the idea of similarity attributed to levels and locations; this is a post-hoc
reading of a fixed backbone, not the trained AVSL graph): B. Zhang, W. Zheng, J. Zhou, J. Lu,
"Attributable Visual Similarity Learning", CVPR 2022, pp. 7532-7541 (arXiv:2203.14932).

Example:
    >>> import numpy as np
    >>> from s2w_toolkit import Pair, load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    >>> x = net.preprocess(faces)
    >>> e = AVSLExplainer().explain(Pair(x[:1], x[1:], faces[0], faces[1]), net)
    >>> e.maps["a"].shape, e.metadata["level_names"], e.metadata["level_resolutions"]
    ((150, 150), ['units.2', 'units.6', 'units.9'], [[35, 35], [17, 17], [8, 8]])
    >>> round(sum(e.metadata["level_weights"]), 6)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from s2w_toolkit.cells import cell_cosines, norm_weights
from s2w_toolkit.explainers.explanation import Explanation
from s2w_toolkit.interfaces import Explainer, Pair
from s2w_toolkit.options import BaseOptions

from .levels import auto_levels, cam_layer_name, capture_levels, named_levels, trace_spatial_outputs

EPS = 1e-12
REFERENCE = ("B. Zhang, W. Zheng, J. Zhou, J. Lu: Attributable Visual Similarity Learning. CVPR 2022, "
             "pp. 7532-7541. arXiv:2203.14932 (post-hoc reading of a fixed backbone)")
FORMULA = ("c_i = <A_i,B_i>/(|A_i||B_i|); omega_i = |A_i||B_i| / sum_j |A_j||B_j|; g_l = cos(mean_i A_i, "
           "mean_i B_i); w_l = max(g_l,0) / sum_m max(g_m,0) (uniform if all <= 0); contribution k_l = w_l g_l; "
           "level map M_l[i] = w_l c_i omega_i; combined map M = sum_l bilinear(h_l w_l M_l, face size)")


@dataclass
class LevelSimilarity:
    """One level's comparison: ``cell_cosine`` and ``cell_weight`` ``(h, w)`` (float64),
    ``global_cosine`` ``g_l`` and ``cell_weighted_cosine`` ``sum_i omega_i c_i``.

    Example:
        >>> import torch
        >>> s = level_similarity(torch.ones(4, 2, 2), torch.ones(4, 2, 2))
        >>> s.global_cosine, s.cell_weight.sum().item()
        (1.0, 1.0)
    """

    cell_cosine: torch.Tensor
    cell_weight: torch.Tensor
    global_cosine: float
    cell_weighted_cosine: float


def level_similarity(fa: torch.Tensor, fb: torch.Tensor) -> LevelSimilarity:
    """Compare two faces' features ``(C, h, w)`` of one level (formulas in the module docstring)."""
    fa, fb = fa.double(), fb.double()
    cell, weight = cell_cosines(fa, fb, EPS), norm_weights(fa, fb, EPS)
    pa, pb = fa.mean(dim=(1, 2)), fb.mean(dim=(1, 2))
    pooled = pa.norm() * pb.norm()
    g = float((pa @ pb / pooled).clamp(-1.0, 1.0)) if pooled > EPS else 0.0
    return LevelSimilarity(cell, weight, g, float((weight * cell).sum()))


def level_weights(cosines: list[float]) -> list[float]:
    """``w_l = max(g_l, 0) / sum_m max(g_m, 0)``, uniform when no ``g_l`` is positive.

    Example:
        >>> level_weights([0.5, -0.2, 1.5]), level_weights([-1.0, 0.0])
        ([0.25, 0.0, 0.75], [0.5, 0.5])
    """
    positive = [max(g, 0.0) for g in cosines]
    total = sum(positive)
    return [p / total for p in positive] if total > 0 else [1.0 / len(cosines)] * len(cosines)


def combine_maps(level_maps: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """``sum_l bilinear(h_l w_l M_l)`` at ``size`` ``(H, W)`` from level maps ``(h_l, w_l)``."""
    out = torch.zeros(size, dtype=torch.float64, device=level_maps[0].device)
    for m in level_maps:
        dense = (m * m.numel())[None, None]
        out += F.interpolate(dense, size=size, mode="bilinear", align_corners=False)[0, 0]
    return out


@dataclass(frozen=True)
class AVSLOptions(BaseOptions):
    """AVSL's options; ``batch_size`` and ``seed`` are accepted and unused.

    Example:
        >>> AVSLOptions().levels, AVSLOptions().num_levels
        ((), 3)
    """

    levels: tuple[str, ...] = field(default=(), metadata={
        "help": "dotted module names from backbone.named_modules() (empty: chosen automatically)"})
    num_levels: int = field(default=3, metadata={"help": "how many levels the automatic choice keeps", "min": 1})


class AVSLExplainer(Explainer):
    """Level-by-level similarity maps and their weighted combination.

    Options (:class:`AVSLOptions`; strings from the CLI): ``levels`` (comma-separated dotted
    module names from ``backbone.named_modules()``; default: chosen automatically),
    ``num_levels`` (how many levels the automatic choice keeps, default 3). ``batch_size`` is
    accepted and unused (two forward passes of the pair, plus the backbone's own cosine).

    Example:
        >>> AVSLExplainer(levels="units.3, stem", num_levels="2").settings
        {'levels': ['units.3', 'stem'], 'num_levels': 2}
    """

    name = "avsl"
    Options = AVSLOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = {"levels": list(self.options.levels), "num_levels": self.options.num_levels}

    def explain(self, pair: Pair, backbone: Any, attributes: Any = None) -> Explanation:
        x = torch.cat([pair.a, pair.b]).detach()
        outputs = trace_spatial_outputs(backbone, x)
        if self.settings["levels"]:
            modules = [n for n, _ in backbone.named_modules() if n]
            levels = named_levels(outputs, self.settings["levels"], modules)
            selection = "the levels option"
        else:
            levels = auto_levels(outputs, cam_layer_name(backbone), self.settings["num_levels"])
            selection = "automatic: last output per resolution, ending at the cam layer's resolution"
        feats = capture_levels(backbone, x, levels)
        sims = [level_similarity(f[0], f[1]) for f in feats]
        cosines = [s.global_cosine for s in sims]
        weights = level_weights(cosines)
        contributions = [w * g for w, g in zip(weights, cosines)]
        level_maps = [w * s.cell_cosine * s.cell_weight for w, s in zip(weights, sims)]
        combined = combine_maps(level_maps, tuple(pair.a.shape[-2:]))
        with torch.no_grad():
            cosine = float(backbone.similarity(pair.a, pair.b)[0])
        total = sum(contributions)
        extra = {f"level{i + 1}:{o.name}": {"a": m.float(), "b": m.float()}
                 for i, (o, m) in enumerate(zip(levels, level_maps))}
        metadata = {
            "method": "post-hoc attributable visual similarity: multi-level cell-wise cosine maps",
            "reference": REFERENCE,
            "score": "the backbone's cosine similarity of the pair",
            "formula": FORMULA,
            "maps": "maps = combined location map (same for both sides); extra_maps = each level's map M_l",
            "options": {"levels": ",".join(self.settings["levels"]), "num_levels": self.settings["num_levels"]},
            "level_selection": selection,
            "level_names": [o.name for o in levels],
            "level_resolutions": [list(o.size) for o in levels],
            "level_channels": [o.channels for o in levels],
            "level_order": [o.order for o in levels],
            "level_cosines": cosines,
            "level_cell_weighted_cosines": [s.cell_weighted_cosine for s in sims],
            "level_weights": weights,
            "level_contributions": contributions,
            "level_map_sums": [float(m.sum()) for m in level_maps],
            "contribution_sum": total,
            "backbone_cosine": cosine,
            "contribution_sum_minus_cosine": total - cosine,
            "combined_map_mean": float(combined.mean()),
        }
        combined = combined.float()
        return Explanation(score=cosine, maps={"a": combined, "b": combined}, explainer=self.name,
                           extra_maps=extra, metadata=metadata)
