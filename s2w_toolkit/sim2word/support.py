"""Each word against its own control: is erasing the attribute better than erasing the same
shape anywhere else in the face?

For one direction, every eligible attribute j has a value v_j (the cosine s_j after erasing
its mask, or the uncertainty u_j with ``rank_by="uncertainty"``) and K control values c_jk (the
same mask placed at random inside the face, :mod:`~s2w_toolkit.sim2word.placements`). The
expected sign ``sign`` says which way is "better": +1 when erasing should raise the value (a
non-mate's distinguishing attribute, or the uncertainty), -1 when it should lower it (a mate's
shared evidence). Per attribute:

* ``control_mean``, ``control_std``: the mean and spread of its K controls;
* ``excess`` = v_j - control_mean (in the value's unit; ``sign * excess > 0`` is better than a
  random placement on average), by which words are ranked;
* ``p_value`` = (1 + #{k : sign * (c_jk - v_j) >= 0}) / (K + 1): its rank among its own
  controls, an exact one-sided permutation p-value;
* ``p_selection``: the same rank among the *selection-matched* controls b_k, where b_k is the
  best (by ``sign``) over every eligible attribute of its k-th placement. Ranking eight
  erasures and keeping the best has an arg-max bias; b_k has the same bias, so beating it is
  the comparison that removes it;
* ``supported``: ``p_value <= level`` and ``p_selection <= level``. With K controls the
  smallest p-value is 1 / (K + 1), so K must be at least 1 / level - 1.

Two rules make the selection-matched control (``selection``):

* ``"raw"``: b_k is the best *raw* value over the words' k-th placements. Masks differ in size
  (up to 40x), and a large mask placed anywhere moves the cosine more than a small one placed
  well, so under this rule a small word in the right place can hardly ever beat b_k.
* ``"max-t"``: Westfall and Young's max-T ("Resampling-Based Multiple Testing", 1993). Each
  word's value and its K controls are standardised by that word's own K + 1 values (z-scores,
  oriented by ``sign``); t_k is the largest standardised k-th control over the words, and
  ``p_selection`` is the word's z against the t_k. Words are compared like with like (each in
  units of its own spread), and the family-wise error over the words is controlled: under the
  null that no erasure beats its controls, some word is supported at ``level`` with probability
  at most ``level``. The word's own ``z`` is kept, and the t_k as ``selection_z``.

The direction's summary holds the b_k (``selection``), the top supported attribute (``top``)
and ``selection_win_rate``, the fraction of the b_k that the top supported word beats: the
probability that it beats a selection-matched random erasure.

Example:
    >>> rows = [{"attribute": "Age", "eligible": True, "s": 0.60, "control_s": [0.50, 0.52, 0.51]},
    ...         {"attribute": "Nose", "eligible": True, "s": 0.53, "control_s": [0.52, 0.55, 0.54]},
    ...         {"attribute": "Lips", "eligible": False, "s": 0.90, "control_s": []}]
    >>> summary = judge_direction(rows, sign=1, level=0.25)
    >>> [(r["attribute"], r["p_value"], r["p_selection"], r["supported"]) for r in rows[:2]]
    [('Age', 0.25, 0.25, True), ('Nose', 0.75, 0.75, False)]
    >>> round(rows[0]["excess"], 4), summary["top"], summary["selection"], summary["selection_win_rate"]
    (0.09, 'Age', [0.52, 0.55, 0.54], 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: The default support level: a word must beat its own and the selection-matched controls at it.
LEVEL = 0.1
#: How the selection-matched control is made (see the module docs).
SELECTION_RULES = ("raw", "max-t")


def rank_p_value(value: float, controls: Sequence[float], sign: int) -> float:
    """(1 + #{c : sign * (c - value) >= 0}) / (K + 1): how many of the K ``controls`` do at least
    as well as ``value`` in the direction ``sign``; 1.0 without controls.

    >>> rank_p_value(0.6, [0.5, 0.7, 0.4], sign=1), rank_p_value(0.6, [0.5, 0.7, 0.4], sign=-1)
    (0.5, 0.75)
    """
    if len(controls) == 0:
        return 1.0
    c = np.asarray(controls, dtype=np.float64)
    return float((1 + np.count_nonzero(sign * (c - value) >= 0)) / (len(c) + 1))


def standardised(values: np.ndarray, controls: np.ndarray, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """Each word's value ``(J,)`` and controls ``(J, K)`` as z-scores of its own K + 1 values,
    oriented so that larger is better (``sign``); a word whose values are all equal scores 0.

    >>> z, zc = standardised(np.array([3.0]), np.array([[1.0, 2.0]]), sign=1)
    >>> float(z[0]), zc[0].tolist()
    (1.0, [-1.0, 0.0])
    """
    pooled = np.concatenate([values[:, None], controls], axis=1)
    mean, sd = pooled.mean(axis=1, keepdims=True), pooled.std(axis=1, ddof=1, keepdims=True)
    sd = np.where(sd > 0, sd, np.inf)
    return sign * (values - mean[:, 0]) / sd[:, 0], sign * (controls - mean) / sd


def judge_direction(rows: list[dict], sign: int, level: float = LEVEL, key: str = "s",
                    control_key: str = "control_s", selection_rule: str = "raw") -> dict[str, Any]:
    """Annotate the eligible ``rows`` of one direction in place (see the module docs) and return
    the direction's summary ``{"selection", "top", "selection_win_rate", "supported"}`` (with
    ``selection_rule`` ``"max-t"`` also ``"selection_z"``).

    Rows without controls (placements = 0) get no annotation; the summary is then empty-handed
    (``top`` None, ``selection`` [])."""
    if selection_rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {selection_rule!r}; use one of {SELECTION_RULES}")
    judged = [r for r in rows if r["eligible"] and len(r.get(control_key) or []) > 0]
    if not judged:
        return {"selection": [], "top": None, "selection_win_rate": None, "supported": []}
    k = min(len(r[control_key]) for r in judged)
    controls = np.array([r[control_key][:k] for r in judged], dtype=np.float64)  # (J, K)
    values = np.array([float(r[key]) for r in judged])
    selection = (sign * controls).max(axis=0) * sign  # the best control of the selection, per placement
    z, z_controls = standardised(values, controls, sign)
    max_t = z_controls.max(axis=0)  # the best standardised control, per placement
    for j, (r, c) in enumerate(zip(judged, controls)):
        value = float(values[j])
        r["control_mean"] = float(c.mean())
        r["control_std"] = float(c.std(ddof=1)) if k > 1 else 0.0
        r["excess"] = value - r["control_mean"]
        r["p_value"] = rank_p_value(value, c, sign)
        if selection_rule == "max-t":
            r["z"] = float(z[j])
            r["p_selection"] = rank_p_value(float(z[j]), max_t, 1)
        else:
            r["p_selection"] = rank_p_value(value, selection, sign)
        r["supported"] = bool(r["p_value"] <= level + 1e-12 and r["p_selection"] <= level + 1e-12)
    supported = sorted((r for r in judged if r["supported"]), key=lambda r: sign * r["excess"], reverse=True)
    top = supported[0] if supported else None
    summary = {"selection": selection.tolist(), "top": None if top is None else top["attribute"],
               "supported": [r["attribute"] for r in supported]}
    if selection_rule == "max-t":
        summary["selection_z"] = max_t.tolist()
        summary["selection_win_rate"] = None if top is None else float(np.mean(top["z"] > max_t))
    else:
        summary["selection_win_rate"] = None if top is None else float(np.mean(sign * (float(top[key]) - selection) > 0))
    return summary
