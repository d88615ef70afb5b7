"""Verification quality of a backbone on a pair set: ROC/DET points, AUC, EER, TPR at FMR, and
the threshold for a target FMR.

Every function takes ``scores`` (one similarity per pair) and ``same`` (True for a mate pair)
and accepts a pair when ``score >= threshold``. With N non-mates and M mates, FMR(t) is the
share of non-mates accepted and FNMR(t) the share of mates rejected; an FMR below 1/N cannot
be measured on the set. Everything returned is plain JSON data (floats finite, or None).

Example:
    >>> scores = [0.9, 0.8, 0.6, 0.5, 0.3, 0.2, 0.1]
    >>> same = [True, False, True, False, True, False, False]
    >>> t = threshold_for_fmr(scores, same, 0.25)
    >>> 0.5 < t < 0.5001, rates_at_threshold(scores, same, t)["fmr"]  # one of 4 non-mates accepted
    (True, 0.25)
    >>> round(equal_error_rate(scores, same)["eer"], 4)
    0.3333
    >>> for row in tpr_at_fmr(scores, same):  # only 4 non-mates
    ...     print(row["fmr"], row["tpr"], row["note"])
    0.1 None not measurable: needs at least 10 non-mates, have 4
    0.01 None not measurable: needs at least 100 non-mates, have 4
    0.001 None not measurable: needs at least 1000 non-mates, have 4
    >>> s = verification_summary(scores, same, 0.55)
    >>> s["mates"], s["non_mates"], round(s["roc_auc"], 4), s["at_threshold"]["false_matches"]
    (3, 4, 0.75, 1)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..io.json_data import plain
from .metrics import fmr_fnmr, tpr_at_fpr, verification_auc

#: The FMRs at which :func:`tpr_at_fmr` reports the TPR by default.
TARGET_FMRS = (1e-1, 1e-2, 1e-3)
_EPS = 1e-9  # slack for target * N computed in floating point (0.1 * 30 = 3.0000000000000004)


def _classes(scores: Sequence[float], same: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Mate and non-mate scores as float64 arrays; refuses mismatched lengths and non-finite scores."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(same, dtype=bool).ravel()
    if s.shape != labels.shape:
        raise ValueError(f"{len(s)} scores but {len(labels)} labels")
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} score(s) are not finite")
    return s[labels], s[~labels]


def _check_target(fmr: float) -> None:
    if not 0.0 < fmr < 1.0:  # also refuses NaN
        raise ValueError(f"target FMR must lie strictly between 0 and 1, got {fmr}")


def _allowed(fmr: float, non_mates: int) -> int:
    """How many non-mates an FMR of at most ``fmr`` may accept: ``floor(fmr * N)``."""
    return math.floor(fmr * non_mates + _EPS)


def _operating_points(mates: np.ndarray, non_mates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (descending: just above the top score, then every distinct score) and the
    counts of non-mates and of mates accepted at each."""
    distinct = np.unique(np.concatenate([mates, non_mates]))[::-1]
    thresholds = np.concatenate([[np.nextafter(distinct[0], np.inf)], distinct])
    accepted_non = len(non_mates) - np.searchsorted(np.sort(non_mates), thresholds, side="left")
    accepted_mates = len(mates) - np.searchsorted(np.sort(mates), thresholds, side="left")
    return thresholds, accepted_non, accepted_mates


def _corners(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points where the polyline (x, y) of integer counts turns (ends included)."""
    keep = np.ones(len(x), dtype=bool)
    if len(x) > 2:
        dx1, dy1, dx2, dy2 = x[1:-1] - x[:-2], y[1:-1] - y[:-2], x[2:] - x[1:-1], y[2:] - y[1:-1]
        keep[1:-1] = dx1 * dy2 - dy1 * dx2 != 0
    return keep


def _curve(scores: Sequence[float], same: Sequence[bool], compact: bool) -> tuple[np.ndarray, ...]:
    mates, non_mates = _classes(scores, same)
    if not len(mates) or not len(non_mates):
        raise ValueError(f"a curve needs mates and non-mates, got {len(mates)} and {len(non_mates)}")
    t, fa, ta = _operating_points(mates, non_mates)
    keep = _corners(fa, ta) if compact else np.ones(len(t), dtype=bool)
    return t[keep], fa[keep] / len(non_mates), ta[keep] / len(mates)


def roc_points(scores: Sequence[float], same: Sequence[bool], *, compact: bool = True) -> dict[str, list[float]]:
    """ROC as ``{"threshold", "fmr", "tpr"}`` lists, from the threshold just above every score
    (accepts nothing: FMR = TPR = 0) down to the lowest score (accepts all). ``compact`` keeps
    only the corners, dropping every point that lies on a straight segment between its
    neighbours (a run of mates, or of non-mates, in score order): the drawn curve is the same,
    and thousands of pairs give a few hundred points at most where the classes interleave.

    Example:
        >>> roc_points([0.9, 0.8, 0.7, 0.1], [True, True, False, False])
        {'threshold': [0.9000000000000001, 0.8, 0.1], 'fmr': [0.0, 0.0, 1.0], 'tpr': [0.0, 1.0, 1.0]}
    """
    t, fmr, tpr = _curve(scores, same, compact)
    return {"threshold": t.tolist(), "fmr": fmr.tolist(), "tpr": tpr.tolist()}


def det_points(scores: Sequence[float], same: Sequence[bool], *, compact: bool = True) -> dict[str, list[float]]:
    """DET as ``{"threshold", "fmr", "fnmr"}`` lists: the points of :func:`roc_points`, with
    FNMR = 1 - TPR.

    Example:
        >>> det_points([0.9, 0.8, 0.7, 0.1], [True, True, False, False])["fnmr"]
        [1.0, 0.0, 0.0]
    """
    t, fmr, tpr = _curve(scores, same, compact)
    return {"threshold": t.tolist(), "fmr": fmr.tolist(), "fnmr": (1.0 - tpr).tolist()}


def equal_error_rate(scores: Sequence[float], same: Sequence[bool]) -> dict[str, Any]:
    """The EER and its threshold: ``{"eer", "threshold", "interpolated", "between"}``.

    Along the operating points (threshold descending), FMR - FNMR strictly increases from -1 to
    1. If one point has FMR = FNMR exactly, that is the EER and its threshold, and
    ``interpolated`` is False. Otherwise the EER is where the straight segment between the last
    point with FMR < FNMR and the first with FMR > FNMR (the DET polyline on linear axes) crosses
    FMR = FNMR; the threshold is interpolated between those two points' thresholds with the same
    weight. No threshold attains an interpolated EER: ``between`` gives the two real operating
    points ``{"threshold", "fmr", "fnmr"}`` around it. All None without mates or non-mates.

    Example:
        >>> equal_error_rate([0.9, 0.6, 0.7, 0.2], [True, True, False, False])
        {'eer': 0.5, 'threshold': 0.7, 'interpolated': False, 'between': []}
    """
    mates, non_mates = _classes(scores, same)
    if not len(mates) or not len(non_mates):
        return {"eer": None, "threshold": None, "interpolated": None, "between": []}
    t, fa, ta = _operating_points(mates, non_mates)
    m, n = len(mates), len(non_mates)
    diff = fa * m - (m - ta) * n  # (FMR - FNMR) * M * N, in exact integers
    k = int(np.argmax(diff >= 0))  # diff[0] = -M N < 0 and diff[-1] = M N > 0, so 1 <= k
    if diff[k] == 0:
        return {"eer": float(fa[k] / n), "threshold": float(t[k]), "interpolated": False, "between": []}
    alpha = float(-diff[k - 1] / (diff[k] - diff[k - 1]))
    fmr = fa[k - 1] / n + alpha * (fa[k] - fa[k - 1]) / n
    points = [{"threshold": float(t[j]), "fmr": float(fa[j] / n), "fnmr": float((m - ta[j]) / m)} for j in (k - 1, k)]
    return {"eer": float(fmr), "threshold": float(t[k - 1] + alpha * (t[k] - t[k - 1])), "interpolated": True,
            "between": points}


def threshold_for_fmr(scores: Sequence[float], same: Sequence[bool], fmr: float) -> float:
    """The lowest threshold whose FMR on these pairs is at most ``fmr`` (accept ``score >= t``).

    With N non-mates at most ``k = floor(fmr N)`` may be accepted, so the threshold is the
    smallest float above the (k+1)-th highest non-mate score. When ``fmr N`` is an integer and
    that score is not tied with the k-th, the achieved FMR is exactly ``fmr``. Non-mates tied at
    the cut are rejected together, so ties can leave the achieved FMR below the target. A target
    below 1/N cannot be reached: that warns and returns the threshold that accepts no non-mate
    (just above the highest). Needs at least one non-mate.

    Example:
        >>> scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
        >>> same = [True] + [False] * 10
        >>> t = threshold_for_fmr(scores, same, 0.2)
        >>> 0.7 < t < 0.7001, fmr_fnmr(scores, same, t)  # 2 of 10 non-mates accepted
        (True, (0.2, 0.0))
    """
    _check_target(fmr)
    _, non_mates = _classes(scores, same)
    n = len(non_mates)
    if not n:
        raise ValueError("a threshold for a target FMR needs at least one non-mate pair")
    allowed = _allowed(fmr, n)
    if allowed == 0:
        warnings.warn(f"target FMR {fmr:g} is below 1/{n}, the smallest FMR {n} non-mates can measure; "
                      "using the threshold that accepts no non-mate", stacklevel=2)
    cut = np.sort(non_mates)[::-1][allowed]  # accepting it would exceed the target
    return float(np.nextafter(cut, np.inf))


def rates_at_threshold(scores: Sequence[float], same: Sequence[bool], threshold: float) -> dict[str, Any]:
    """FMR and FNMR at ``threshold`` with the counts behind them (rates None for an empty class).

    Example:
        >>> rates_at_threshold([0.9, 0.4, 0.6, 0.2], [True, True, False, False], 0.5)
        {'threshold': 0.5, 'fmr': 0.5, 'fnmr': 0.5, 'false_matches': 1, 'non_mates': 2,
         'false_non_matches': 1, 'mates': 2}
    """
    mates, non_mates = _classes(scores, same)
    fmr, fnmr = fmr_fnmr(scores, same, threshold)
    return plain({"threshold": float(threshold), "fmr": fmr, "fnmr": fnmr,
                  "false_matches": int((non_mates >= threshold).sum()), "non_mates": len(non_mates),
                  "false_non_matches": int((mates < threshold).sum()), "mates": len(mates)})


def tpr_at_fmr(scores: Sequence[float], same: Sequence[bool],
               targets: Sequence[float] = TARGET_FMRS) -> list[dict[str, Any]]:
    """Per target FMR f: ``{"fmr", "tpr", "threshold", "achieved_fmr", "note"}``, the TPR at the
    threshold of :func:`threshold_for_fmr` (the value of :func:`~.metrics.tpr_at_fpr`). With N
    non-mates, f < 1/N is not measurable: the values are None and ``note`` says how many
    non-mates f needs (``ceil(1/f)``); the note is None when the value is measured.

    Example:
        >>> tpr_at_fmr([0.9, 0.6, 0.7, 0.2], [True, True, False, False], [0.5])
        [{'fmr': 0.5, 'tpr': 1.0, 'threshold': 0.20000000000000004, 'achieved_fmr': 0.5, 'note': None}]
    """
    mates, non_mates = _classes(scores, same)
    out = []
    for f in targets:
        _check_target(f)
        row: dict[str, Any] = {"fmr": float(f), "tpr": None, "threshold": None, "achieved_fmr": None, "note": None}
        if not len(mates) or not len(non_mates):
            row["note"] = f"not measurable: needs mates and non-mates, have {len(mates)} and {len(non_mates)}"
        elif _allowed(f, len(non_mates)) == 0:
            row["note"] = (f"not measurable: needs at least {math.ceil(1 / f - _EPS)} non-mates, "
                           f"have {len(non_mates)}")
        else:
            t = threshold_for_fmr(scores, same, f)
            row.update(tpr=tpr_at_fpr(scores, same, [f])[f], threshold=t,
                       achieved_fmr=float((non_mates >= t).mean()))
        out.append(row)
    return out


def verification_summary(scores: Sequence[float], same: Sequence[bool], threshold: float) -> dict[str, Any]:
    """Everything above in one JSON-able dict: ``pairs``, ``mates``, ``non_mates``, ``roc_auc``
    (:func:`~.metrics.verification_auc`), ``eer``, ``tpr_at_fmr``, ``at_threshold``
    (:func:`rates_at_threshold`), and the compact ``roc`` and ``det`` points (None without
    both classes).

    Example:
        >>> s = verification_summary([0.9, 0.6, 0.7, 0.2], [True, True, False, False], 0.65)
        >>> s["roc_auc"], s["eer"]["eer"], s["at_threshold"]["fmr"], s["roc"]["tpr"]
        (0.75, 0.5, 0.5, [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    mates, non_mates = _classes(scores, same)
    both = bool(len(mates) and len(non_mates))
    return plain({
        "pairs": len(mates) + len(non_mates), "mates": len(mates), "non_mates": len(non_mates),
        "roc_auc": verification_auc(scores, same), "eer": equal_error_rate(scores, same),
        "tpr_at_fmr": tpr_at_fmr(scores, same), "at_threshold": rates_at_threshold(scores, same, threshold),
        "roc": roc_points(scores, same) if both else None, "det": det_points(scores, same) if both else None,
    })
