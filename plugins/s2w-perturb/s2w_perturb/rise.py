"""``rise``: random-mask saliency of a pair's cosine similarity, in the manner of RISE.

RISE (Petsiuk, Das and Saenko, BMVC 2018) explains a score by averaging random masks weighted
by the score of the masked image. For a pair, Williford et al. ("Explainable Face
Recognition", ECCV 2020) mask one face and score it against the other; this explainer does the
same. For side a, with masks ``m_i`` (``i = 1..N``) and the unmasked face b:

    x_i = a * m_i + fill * (1 - m_i)
    s_i = cos(f(x_i), f(b))
    S_a = sum_i (s_i - c) * m_i / (N * p)

where ``fill`` is the backbone's preprocessed black image (``backbone.preprocess`` of zeros),
``p`` the keep probability, and ``c = mean_i s_i`` when ``center`` is on (default) or
``c = 0`` for RISE's plain weighted average. Side b is the same with the roles swapped and its
own masks. Positive values mark pixels whose presence raises the similarity.

Centring removes the term ``mean(s) * sum_i m_i / (N p)``, which is about ``mean(s)``
everywhere, plus the grid pattern of that particular draw; it does not change where the map
is high, only what "zero" means.

Example:
    >>> import torch
    >>> from s2w_toolkit import Pair, load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> g = torch.Generator().manual_seed(0)
    >>> faces = torch.rand(2, 3, *net.input_size, generator=g) * 2 - 1
    >>> pair = Pair(a=faces[:1], b=faces[1:], image_a=None, image_b=None)
    >>> e = RISEExplainer(samples="8", batch_size="16").explain(pair, net)
    >>> e.maps["a"].shape, e.metadata["forward_passes"]
    ((150, 150), 2)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch

from s2w_toolkit import Explainer, Explanation, Pair
from s2w_toolkit.fills import black_input
from s2w_toolkit.options import BaseOptions
from s2w_toolkit.targets import SimilarityTo

from .masks import MaskSampler

REFERENCE = ("V. Petsiuk, A. Das, K. Saenko. RISE: Randomized Input Sampling for Explanation of "
             "Black-box Models. BMVC 2018; for pairs: J. R. Williford, B. B. May, J. Byrne. "
             "Explainable Face Recognition. ECCV 2020.")
FORMULA = "S_side = sum_i (s_i - c) * m_i / (N * p); x_i = x * m_i + fill * (1 - m_i); " \
          "s_i = cos(f(x_i), f(other face)); c = mean_i s_i if center else 0"
Fill = Literal["black", "mean"]
FILLS = get_args(Fill)


@dataclass(frozen=True)
class RISEOptions(BaseOptions):
    """RISE's options; ``seed`` seeds the masks, ``batch_size`` counts masked images per pass.

    Example:
        >>> RISEOptions(p=0)
        Traceback (most recent call last):
        ...
        ValueError: p (the keep probability) must be in (0, 1], got 0
    """

    samples: int = field(default=500, metadata={"help": "N, the masks per side", "min": 1})
    cells: int = field(default=7, metadata={"help": "grid cells per side of the coarse mask", "min": 1})
    p: float = field(default=0.5, metadata={"help": "probability of keeping a cell, in (0, 1]"})
    center: bool = field(default=True, metadata={"help": "subtract the mean masked score (false: plain RISE)"})
    fill: Fill = field(default="black", metadata={
        "help": "black: the preprocessed black image; mean: each face's mean preprocessed colour"})

    def __post_init__(self) -> None:
        if not 0.0 < self.p <= 1.0:
            raise ValueError(f"p (the keep probability) must be in (0, 1], got {self.p}")


def _fills(pair: Pair, backbone: Any, kind: str) -> torch.Tensor:
    """The value masked pixels take, ``(2, 3, H, W)`` for sides a and b, in preprocessed space."""
    ref = pair.a
    if kind == "mean":
        faces = torch.cat([pair.a, pair.b]).detach()
        return faces.mean(dim=(2, 3), keepdim=True).expand(-1, -1, *ref.shape[-2:])
    return black_input(backbone, ref).expand(2, -1, -1, -1)


@torch.no_grad()
def rise_saliency(pair: Pair, backbone: Any, samples: int = 500, cells: int = 7, p: float = 0.5,
                  seed: int = 0, batch_size: int = 64, center: bool = True,
                  fill: str = "black") -> dict[str, Any]:
    """RISE saliency of both sides of ``pair`` (formula in the module docstring).

    Returns ``maps`` (``{"a", "b"}`` float64 ``(H, W)`` tensors on the pair's device),
    ``score`` (the backbone cosine of the unmasked pair), ``scores`` (``{"a", "b"}``: the
    ``N`` masked scores ``s_i`` per side, float64), ``sampler`` (the :class:`MaskSampler`;
    masks ``0..N-1`` are side a's, ``N..2N-1`` side b's) and ``forward_passes`` (1 for the
    unmasked pair plus ``ceil(2N / batch_size)`` for the masked images).
    """
    device, dtype = pair.a.device, pair.a.dtype
    height, width = pair.a.shape[-2:]
    sampler = MaskSampler(2 * samples, (height, width), cells=cells, p=p, seed=seed)
    faces = torch.cat([pair.a, pair.b]).detach()
    reference = backbone.embed(faces)  # (2, D): unmasked a, unmasked b
    score = float((reference[0] * reference[1]).sum())
    fills = _fills(pair, backbone, fill)
    weighted = torch.zeros(2, height, width, dtype=torch.float64, device=device)
    mask_sum = torch.zeros_like(weighted)
    scores = torch.empty(2 * samples, dtype=torch.float64, device=device)
    passes = 1
    for start in range(0, 2 * samples, batch_size):
        stop = min(start + batch_size, 2 * samples)
        masks = sampler.masks(start, stop, device=device, dtype=dtype)  # (n, H, W)
        side = (torch.arange(start, stop, device=device) >= samples).long()  # 0: a, 1: b
        weight = masks.unsqueeze(1)
        masked = faces[side] * weight + fills[side] * (1 - weight)
        chunk = SimilarityTo(backbone.embed, reference[1 - side])(masked).double()
        passes += 1
        scores[start:stop] = chunk
        masks64 = masks.double()
        for s in (0, 1):
            pick = side == s
            if bool(pick.any()):
                weighted[s] += torch.einsum("n,nhw->hw", chunk[pick], masks64[pick])
                mask_sum[s] += masks64[pick].sum(dim=0)
    per_side = scores.view(2, samples)
    baseline = per_side.mean(dim=1) if center else torch.zeros(2, dtype=torch.float64, device=device)
    saliency = (weighted - baseline[:, None, None] * mask_sum) / (samples * p)
    return {"maps": {"a": saliency[0], "b": saliency[1]}, "score": score,
            "scores": {"a": per_side[0], "b": per_side[1]}, "sampler": sampler, "forward_passes": passes,
            "baseline": {"a": float(baseline[0]), "b": float(baseline[1])}}


class RISEExplainer(Explainer):
    """RISE-style random-mask saliency of the pair's cosine similarity, one map per face.

    Options (:class:`RISEOptions`; strings from ``s2w explain -o KEY=VALUE`` are converted):
    ``samples`` (N masks per side, 500), ``cells`` (grid size, 7), ``p`` (keep probability,
    0.5), ``seed`` (0), ``batch_size`` (64, also ``--batch-size``), ``center`` (subtract the
    mean masked score, true), ``fill`` (``black``: the preprocessed black image, or ``mean``:
    each face's mean colour). ``Explanation.score`` is the backbone's cosine of the unmasked pair.

    Example:
        >>> r = RISEExplainer(samples="64", center="no")
        >>> r.settings["samples"], r.settings["center"], r.settings["batch_size"]
        (64, False, 64)
        >>> RISEExplainer(p="0")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.OptionError: explainer 'rise': p (the keep probability) must be in (0, 1], got 0.0
    """

    name = "rise"
    Options = RISEOptions
    fast_options = {"samples": "32"}  # the conformance tests: enough masks to check behaviour

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = dataclasses.asdict(self.options)

    def explain(self, pair: Pair, backbone: Any, attributes: Any = None) -> Explanation:
        s = self.settings
        result = rise_saliency(pair, backbone, **s)
        masked_passes = math.ceil(2 * s["samples"] / s["batch_size"])
        metadata = {
            "method": "RISE (random smooth masks), per side against the other unmasked face",
            "reference": REFERENCE,
            "formula": FORMULA,
            "score": "backbone cosine similarity of the unmasked pair",
            "maps": "raw saliency S (not normalised); positive = keeping these pixels raises the similarity",
            **s,
            "fill_value": "backbone.preprocess of a black image" if s["fill"] == "black"
            else "each face's mean preprocessed colour",
            "forward_passes": result["forward_passes"],
            "masked_forward_passes": masked_passes,
            "masked_images": 2 * s["samples"],
            "mean_masked_score": {side: float(v.mean()) for side, v in result["scores"].items()},
            "baseline_subtracted": result["baseline"],
        }
        maps = {side: m.float().cpu().numpy() for side, m in result["maps"].items()}
        return Explanation(score=result["score"], maps=maps, explainer=self.name, metadata=metadata)
