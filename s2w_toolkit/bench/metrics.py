"""Faithfulness metrics for similarity explanations, and verification statistics.

* :func:`deletion_insertion`: RISE-style deletion/insertion curves of the cosine similarity,
  with a seeded scattered-pixel order as the control. Deletion removes the most relevant pixels
  first (ROAD's MoRF); insertion keeps the most relevant ones and removes the rest, so its curve
  read from the end is ROAD's LeRF curve (least relevant removed first) and has the same AUC.
* :func:`pixel_replacement`: the xSSAB protocol (Huber et al., WACV 2024): replace the p % most
  ("best") or least ("worst") important pixels, or p % random ones, of the target face by the
  other face's pixels at the same positions (or by a fill), and re-score.
* :func:`verification_auc`, :func:`tpr_at_fpr`, :func:`fmr_fnmr`: statistics of pair scores.
* Sim2Word's AUC-drop protocol lives in :mod:`s2w_toolkit.bench.auc_drop`.

Images are changed where the backbone reads them, as Sim2Word erases: with ``m`` the 0/1 pixel
mask, ``x * (1 - m) + s * m`` where ``s`` is the preprocessed source: ``backbone.preprocess``
of a fill (:data:`REMOVALS`: ``road``, ROAD's noisy linear imputation of the removed pixels
from their neighbours, one image per mask, see :mod:`s2w_toolkit.road`; or one image of
:func:`~s2w_toolkit.fills.fill_images`), or the other face. Every image goes through the
backbone in chunks of ``batch_size`` on its device, without gradients; the score of an image is
its *raw* cosine with ``counter_unit`` (the other face's L2-normalised embedding). A saliency map
of another resolution than the face is resized bilinearly; pixels are ordered by saliency, most
salient first, ties broken by a permutation drawn from ``seed``.

Example:
    >>> import numpy as np
    >>> from torch import nn
    >>> from s2w_toolkit.backbones.wrapped import wrap_module
    >>> net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), input_size=(8, 8))
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    >>> x = net.preprocess(faces)
    >>> counter = net.embed(x[1:]).detach()
    >>> saliency = np.arange(64.0).reshape(8, 8)
    >>> out = deletion_insertion(net, x[:1], faces[0], counter, saliency, steps=4, fill="black")
    >>> len(out["deletion_curve"]), out["forward_passes"]
    (5, 20)
    >>> deletion_insertion(net, x[:1], faces[0], counter, saliency, steps=4, orders=("saliency",))["forward_passes"]
    10
    >>> swap = pixel_replacement(net, x[:1], faces[0], x[1:], faces[1], counter, saliency, percents=(100,))
    >>> round(swap["best"][100], 4), round(swap["random"][100], 4), swap["forward_passes"]
    (1.0, 1.0, 4)
    >>> verification_auc([0.9, 0.3, 0.5, 0.3], [True, False, True, True])
    0.833...
    >>> fmr_fnmr([0.9, 0.4, 0.6, 0.2], [True, True, False, False], threshold=0.5)
    (0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..backbones.base import Backbone
from ..explainers.explanation import as_map
from ..fills import FILL_IMAGES, fill_sources
from .batching import Pending, ScoreRequest, score_requests

FPRS = (1e-4, 1e-3, 1e-2, 1e-1)
#: How removed pixels are filled: ROAD's imputation (the default) or a fill image.
REMOVALS = ("road", *FILL_IMAGES)


def _inputs(backbone: Backbone, target_x: torch.Tensor, target_face: np.ndarray, counter_unit: Any,
            saliency: Any) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Target ``(1, 3, H, W)`` and unit counter ``(1, D)`` on the backbone's device, saliency ``(H, W)``."""
    x = torch.as_tensor(target_x).detach().to(backbone.device, torch.float32)
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"target_x must be one preprocessed face (1, 3, H, W), got {tuple(x.shape)}")
    size = tuple(x.shape[2:])
    if np.asarray(target_face).shape[:2] != size:
        raise ValueError(f"target_face {np.asarray(target_face).shape} does not match target_x {size}")
    counter = torch.as_tensor(counter_unit).detach().to(backbone.device, torch.float32).reshape(1, -1)
    sal = as_map(saliency)
    if sal.shape != size:
        sal = F.interpolate(torch.from_numpy(sal)[None, None], size=size, mode="bilinear",
                            align_corners=False)[0, 0].numpy()
    if not np.isfinite(sal).all():
        raise ValueError("saliency has non-finite values")
    return x, F.normalize(counter, dim=1), sal


def _ranks(saliency: np.ndarray, seed: int, device: torch.device) -> torch.Tensor:
    """``(2, H, W)`` rank of every pixel (0 first): by saliency, descending, ties broken by a
    seeded permutation; and in a seeded random order."""
    flat = saliency.ravel().astype(np.float64)
    n = flat.size
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(n)
    orders = (shuffle[np.argsort(-flat[shuffle], kind="stable")], rng.permutation(n))
    ranks = np.empty((2, n), np.int64)
    for row, order in enumerate(orders):
        ranks[row, order] = np.arange(n)
    return torch.from_numpy(ranks).view(2, *saliency.shape).to(device)


def _auc(curve: Sequence[float]) -> float:
    """Trapezoid area under ``curve`` sampled at equal steps over x in [0, 1]."""
    c = np.asarray(curve, dtype=np.float64)
    return float((c[:-1] + c[1:]).sum() / (2 * (len(c) - 1)))


@torch.no_grad()
def deletion_insertion(backbone: Backbone, target_x: torch.Tensor, target_face: np.ndarray, counter_unit: Any,
                       saliency: Any, steps: int = 20, fill: str = "road", seed: int = 0,
                       batch_size: int = 64, orders: Sequence[str] = ("saliency", "scattered")) -> dict[str, Any]:
    """Deletion and insertion curves of the raw cosine and their AUCs, in the saliency order
    and in a seeded scattered-pixel order (the control).

    With ``n`` pixels, step ``k = 0..steps`` removes (deletion) or keeps (insertion; the rest is
    removed) the ``round(k n / steps)`` pixels ranked first; the deletion curve starts at the
    original cosine and the insertion curve ends there. AUC = trapezoid over x = k / steps in
    [0, 1] of the raw cosine (so in [-1, 1]). ``orders``: ``"saliency"`` gives ``deletion_*``
    and ``insertion_*``, ``"scattered"`` gives ``scattered_deletion_auc`` and
    ``scattered_insertion_auc`` (the same for every explainer of a pair). All
    ``2 (steps + 1)`` images of each order are forwarded (``forward_passes``), none skipped.
    """
    pending = plan_deletion_insertion(backbone, target_x, target_face, counter_unit, saliency, steps=steps,
                                      fill=fill, seed=seed, orders=orders)
    return pending.finish(score_requests(pending.requests, batch_size))


@torch.no_grad()
def plan_deletion_insertion(backbone: Backbone, target_x: torch.Tensor, target_face: np.ndarray,
                            counter_unit: Any, saliency: Any, steps: int = 20, fill: str = "road", seed: int = 0,
                            orders: Sequence[str] = ("saliency", "scattered")) -> Pending:
    """:func:`deletion_insertion` as a :class:`~s2w_toolkit.bench.batching.Pending`, to be
    scored with other requests."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    unknown = set(orders) - {"saliency", "scattered"}
    if unknown or not orders:
        raise ValueError(f"orders must be 'saliency' and/or 'scattered', got {list(orders)}")
    x, counter, sal = _inputs(backbone, target_x, target_face, counter_unit, saliency)
    ranks = _ranks(sal, seed, x.device)
    n = sal.size
    counts = torch.tensor([(k * n + steps // 2) // steps for k in range(steps + 1)], device=x.device)
    deleted = ranks[:, None] < counts[None, :, None, None]  # (2 orders, steps + 1, H, W)
    rows = [row for row, order in enumerate(("saliency", "scattered")) if order in orders]
    masks = torch.cat([m for row in rows for m in (deleted[row], ~deleted[row])])
    sources = fill_sources(backbone, target_face, masks, fill, seed, x)

    count = len(masks)  # the closure keeps the number, not the masks

    def finish(scored: list[list[float]]) -> dict[str, Any]:
        scores = scored[0]
        curves = [scores[i * (steps + 1):(i + 1) * (steps + 1)] for i in range(2 * len(rows))]
        out: dict[str, Any] = {"forward_passes": count}
        for i, row in enumerate(rows):
            deletion, insertion = curves[2 * i], curves[2 * i + 1]
            prefix = "" if row == 0 else "scattered_"
            out.update({f"{prefix}deletion_auc": _auc(deletion), f"{prefix}insertion_auc": _auc(insertion)})
            if row == 0:
                out.update(deletion_curve=deletion, insertion_curve=insertion)
        return out

    return Pending([ScoreRequest(backbone, x, sources, masks, counter)], finish)


@torch.no_grad()
def pixel_replacement(backbone: Backbone, target_x: torch.Tensor, target_face: np.ndarray, other_x: torch.Tensor,
                      other_face: np.ndarray, counter_unit: Any, saliency: Any,
                      percents: Sequence[float] = (1, 5, 10, 25, 50),
                      strategies: Sequence[str] = ("best_worst", "random"), source: str = "other", seed: int = 0,
                      batch_size: int = 64, original: bool = True) -> dict[str, Any]:
    """xSSAB pixel replacement: cosines after replacing ``round(p n / 100)`` target pixels.

    Per p in ``percents``: ``"best"`` replaces the pixels ranked first by saliency, ``"worst"``
    the ones ranked last (strategy ``"best_worst"``), ``"random"`` those first in a seeded random
    order (strategy ``"random"``). ``source="other"`` takes the pixels from ``other_x`` (the
    other face, aligned to the same template); a fill name (:data:`REMOVALS`) takes them from
    that fill of the target face. Returns ``{"original": cos,
    "best": {p: cos}, "worst": {...}, "random": {...}, "forward_passes": N}`` (keys of unused
    strategies absent), with ``N = 1 + len(percents) * (2 or 0 + 1 or 0)``: the unchanged target
    is forwarded too, unless ``original=False`` (then there is no ``"original"`` key: a caller
    that already has it, since it does not depend on the saliency, as ``"random"`` does not).
    """
    pending = plan_pixel_replacement(backbone, target_x, target_face, other_x, other_face, counter_unit, saliency,
                                     percents=percents, strategies=strategies, source=source, seed=seed,
                                     original=original)
    return pending.finish(score_requests(pending.requests, batch_size))


@torch.no_grad()
def plan_pixel_replacement(backbone: Backbone, target_x: torch.Tensor, target_face: np.ndarray,
                           other_x: torch.Tensor, other_face: np.ndarray, counter_unit: Any, saliency: Any,
                           percents: Sequence[float] = (1, 5, 10, 25, 50),
                           strategies: Sequence[str] = ("best_worst", "random"), source: str = "other",
                           seed: int = 0, original: bool = True) -> Pending:
    """:func:`pixel_replacement` as a :class:`~s2w_toolkit.bench.batching.Pending`, to be scored
    with other requests."""
    unknown = set(strategies) - {"best_worst", "random"}
    if unknown:
        raise ValueError(f"unknown strategies {sorted(unknown)}; use 'best_worst' and/or 'random'")
    if source != "other" and source not in REMOVALS:
        raise ValueError(f"unknown source {source!r}; use 'other' or one of {REMOVALS}")
    if any(not 0 <= p <= 100 for p in percents):
        raise ValueError(f"percents must lie in [0, 100], got {list(percents)}")
    x, counter, sal = _inputs(backbone, target_x, target_face, counter_unit, saliency)
    if source == "other":
        if np.asarray(other_face).shape != np.asarray(target_face).shape:
            raise ValueError(f"other_face {np.asarray(other_face).shape} does not match "
                             f"target_face {np.asarray(target_face).shape}")
        src = torch.as_tensor(other_x).detach().to(x.device, x.dtype).reshape(x.shape)
    ranks = _ranks(sal, seed, x.device)
    n = sal.size
    jobs: list[tuple[str, float]] = [("original", 0)] if original else []
    masks = [torch.zeros_like(ranks[0], dtype=torch.bool)] if original else []
    for p in percents:
        count = int(round(p * n / 100))
        if "best_worst" in strategies:
            jobs += [("best", p), ("worst", p)]
            masks += [ranks[0] < count, ranks[0] >= n - count]
        if "random" in strategies:
            jobs.append(("random", p))
            masks.append(ranks[1] < count)
    masks = torch.stack(masks) if masks else torch.zeros((0, *ranks.shape[1:]), dtype=torch.bool, device=x.device)
    if source != "other":
        src = fill_sources(backbone, target_face, masks, source, seed, x)

    def finish(scored: list[list[float]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (key, p), score in zip(jobs, scored[0]):
            if key == "original":
                out[key] = score
            else:
                out.setdefault(key, {})[p] = score
        out["forward_passes"] = len(jobs)
        return out

    return Pending([ScoreRequest(backbone, x, src, masks, counter)], finish)


def _split(scores: Sequence[float], same: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(same, dtype=bool).ravel()
    if s.shape != labels.shape:
        raise ValueError(f"{len(s)} scores but {len(labels)} labels")
    return s[labels], s[~labels]


def fmr_fnmr(scores: Sequence[float], same: Sequence[bool], threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at ``threshold``: the share of non-mates scoring at or above it (accepted) and
    of mates scoring below it (rejected); NaN for a class with no pairs."""
    mates, non_mates = _split(scores, same)
    fmr = float((non_mates >= threshold).mean()) if len(non_mates) else float("nan")
    fnmr = float((mates < threshold).mean()) if len(mates) else float("nan")
    return fmr, fnmr


def verification_auc(scores: Sequence[float], same: Sequence[bool]) -> float:
    """ROC AUC = P(mate score > non-mate score) + P(equal) / 2, from the Mann-Whitney rank sum
    with average ranks for ties; NaN without both mates and non-mates."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    mates, non_mates = _split(scores, same)
    if not len(mates) or not len(non_mates):
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # 1-based average ranks
    u = ranks[np.asarray(same, dtype=bool).ravel()].sum() - len(mates) * (len(mates) + 1) / 2.0
    return float(u / (len(mates) * len(non_mates)))


def tpr_at_fpr(scores: Sequence[float], same: Sequence[bool],
               fprs: Sequence[float] = FPRS) -> dict[float, float]:
    """Per target FPR f: the highest TPR over thresholds t (accept ``score >= t``) with
    FPR(t) <= f, i.e. at the lowest such threshold. With N non-mates at most ``floor(f N)``
    may be accepted, so with few pairs the values are coarse (0 fake accepts below 1/N).
    NaN without both mates and non-mates."""
    mates, non_mates = _split(scores, same)
    out = {}
    for f in fprs:
        if not len(mates) or not len(non_mates):
            out[f] = float("nan")
            continue
        allowed = int(np.floor(f * len(non_mates) + 1e-9))
        if allowed >= len(non_mates):
            out[f] = 1.0
            continue
        cut = np.sort(non_mates)[::-1][allowed]  # accepting this non-mate would exceed f
        out[f] = float((mates > cut).mean())
    return out
