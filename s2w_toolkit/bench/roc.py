"""A backbone's ROC and DET curves on a pair set, with an operating point and the EER, as a PNG.

Example:
    >>> import os, tempfile
    >>> scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    >>> same = [True, True, False, True, False, False, True, False]
    >>> path = write_roc(scores, same, 0.75, os.path.join(tempfile.mkdtemp(), "roc.png"))
    >>> os.path.basename(path), os.path.getsize(path) > 10_000
    ('roc.png', True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..plotting import save_figure, subplots
from .verification import det_points, equal_error_rate, rates_at_threshold


def _floor(values: Sequence[float], count: int) -> np.ndarray:
    """``values`` with zeros raised to half of the smallest measurable rate, ``1 / (2 count)``,
    so that they show on a log axis (at its lower edge)."""
    return np.maximum(np.asarray(values, dtype=np.float64), 0.5 / count)


def write_roc(scores: Sequence[float], same: Sequence[bool], threshold: float, path: str | os.PathLike[str]) -> str:
    """Write one PNG with the ROC (TPR against FMR, log FMR axis) and the DET (FNMR against FMR,
    both log) of these pairs, the operating point at ``threshold`` and the EER point marked; rates
    of 0 are drawn at the axis' lower edge, ``1 / (2 N)``. Written atomically; returns the path."""
    det = det_points(scores, same)
    at = rates_at_threshold(scores, same, threshold)
    eer = equal_error_rate(scores, same)
    n, m = at["non_mates"], at["mates"]
    fmr, fnmr = _floor(det["fmr"], n), _floor(det["fnmr"], m)
    fig, (roc_ax, det_ax) = subplots(1, 2, figsize=(10, 4.2), dpi=90)
    roc_ax.plot(fmr, 1.0 - np.asarray(det["fnmr"]), color="tab:blue")
    det_ax.plot(fmr, fnmr, color="tab:blue")
    point = f"threshold {threshold:.4f}: FMR {at['fmr']:.3g}, FNMR {at['fnmr']:.3g}"
    roc_ax.plot(_floor([at["fmr"]], n), [1.0 - at["fnmr"]], "o", color="tab:red", label=point)
    det_ax.plot(_floor([at["fmr"]], n), _floor([at["fnmr"]], m), "o", color="tab:red", label=point)
    if eer["eer"] is not None:
        label = f"EER {eer['eer']:.3g} at {eer['threshold']:.4f}"
        roc_ax.plot(_floor([eer["eer"]], n), [1.0 - eer["eer"]], "s", color="tab:green", label=label)
        det_ax.plot(_floor([eer["eer"]], n), _floor([eer["eer"]], m), "s", color="tab:green", label=label)
    for ax in (roc_ax, det_ax):
        ax.set_xscale("log")
        ax.set_xlim(0.5 / n, 1.0)
        ax.set_xlabel(f"FMR (false match rate, {n} non-mates)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "upper right")
    roc_ax.set_ylim(0.0, 1.02)
    roc_ax.set_ylabel(f"TPR (true match rate, {m} mates)")
    roc_ax.set_title("ROC", fontsize=10)
    det_ax.set_yscale("log")
    det_ax.set_ylim(0.5 / m, 1.0)
    det_ax.set_ylabel("FNMR (false non-match rate)")
    det_ax.set_title("DET", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
