"""Each word against its own control: is erasing the attribute better than erasing the same
shape anywhere else in the face?

For one direction, every eligible attribute j has a value v_j (the cosine s_j after erasing
its mask, or the uncertainty u_j with ``rank_by="uncertainty"``) and K control values c_jk (the
same region placed at random inside the face, :mod:`~s2w_toolkit.sim2word.placements`). The
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
* ``supported``: ``p_value <= level`` and ``p_selection <= level``, and erasing the word moved
  the value the expected way (``sign * delta > 0``): beating its placements alone could mean the
  word's region moves the score *less* than a random one does (a region the network ignores).
  With K controls the smallest p-value is 1 / (K + 1), so K must be at least 1 / level - 1.

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
SELECTION_RULES = ("raw", "max-t", "scaled")


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


def size_scales(units: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Each word's scale for the ``scaled`` rule: ``units`` ``(R, J, K + 1)`` are the values of
    every word and placement in every run, each centred on its (run, word)'s mean, and ``areas``
    ``(J,)`` the words' mask sizes. Each word's spread sd_j (root mean square of its units) is
    fitted as ``log sd = a + b log area`` (b >= 0) across the words, and the fit at each word's
    area is its scale: words of one size share one scale, and no word's own tail sets it.

    >>> units = np.array([[[0.0, 0.01, -0.01], [0.0, 0.04, -0.04]]])
    >>> size_scales(units, np.array([0.05, 0.2])).round(4).tolist()
    [0.0082, 0.0327]
    >>> size_scales(units, np.array([0.1, 0.1])).round(4).tolist()  # one size: one scale
    [0.0163, 0.0163]
    """
    spread = np.sqrt(np.nanmean(units ** 2, axis=(0, 2)))
    floor = 1e-9 + 1e-3 * float(np.nanmax(spread)) if np.isfinite(spread).any() else 1e-9
    y, x = np.log(np.maximum(spread, floor)), np.log(np.maximum(areas, 1e-9))
    if len(x) < 2 or np.ptp(x) < 1e-6:
        return np.full(len(x), float(np.exp(y.mean())))
    slope = max(0.0, float(np.polyfit(x, y, 1)[0]))
    return np.exp(y.mean() + slope * (x - x.mean()))


def _table(runs: list[list[dict]], key: str, control_key: str) -> tuple[list[dict], np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """The judged rows of ``runs[0]`` (eligible, with controls), their values in every run
    ``(R, J)`` (a copy's as the photo's unerased value plus the copy's change, ``delta``; a word
    missing from a copy, matched by attribute and word, is NaN there), their
    controls ``(J, K)`` from ``runs[0]`` (NaN past a word's last drawn placement) and how many
    placements each has."""
    # a word whose mask is empty on the photo erased nothing there, and a NaN has no rank: not judged
    main = [r for r in runs[0] if r["eligible"] and len(r.get(control_key) or []) > 0
            and r.get("erased_fraction", 1.0) > 0 and np.isfinite(float(r[key]))]
    drawn = np.array([len(r[control_key]) for r in main], dtype=np.int64)
    controls = np.full((len(main), int(drawn.max(initial=0))), np.nan)
    for j, row in enumerate(main):
        controls[j, :drawn[j]] = np.asarray(row[control_key], dtype=np.float64)
    values = np.full((len(runs), len(main)), np.nan)
    change = "delta_u" if key == "u" else "delta"
    for i, rows in enumerate(runs):
        found = {(r["attribute"], base_word(r.get("word"))): r for r in rows if r["eligible"]}
        for j, row in enumerate(main):
            other = found.get((row["attribute"], base_word(row.get("word"))))
            if other is not None:  # a copy's change from its own unerased value, put on the photo's
                shift = float(row[key]) - float(row[change]) - (float(other[key]) - float(other[change])) \
                    if change in row and change in other else 0.0
                values[i, j] = float(other[key]) + shift
    return main, values, controls, drawn


def base_word(word: str | None) -> str | None:
    """A word without its description: "nose (big)" and "nose" are one word across copies.

    >>> base_word("nose (big, pointy)"), base_word("Senior")
    ('nose', 'Senior')
    """
    return word if word is None else word.split(" (", 1)[0]


def stop_after(placements: int, level: float) -> int:
    """h of Besag and Clifford's sequential p-value: once h placements do at least as well as a
    word, it cannot be supported at ``level`` with ``placements`` of them (0: it never can be).

    >>> stop_after(19, 0.1), stop_after(99, 0.05), stop_after(4, 0.1)
    (2, 5, 0)
    """
    return max(0, int(np.floor(level * (placements + 1) + 1e-9)))


def _scored(value: np.ndarray, controls: np.ndarray, main: list[dict], sign: int, rule: str) -> np.ndarray:
    """``(J, K + 1)``: each word's value and placements in the rule's units, larger is better."""
    units = np.concatenate([value[:, None], controls], axis=1)
    if rule == "max-t":
        z, z_controls = standardised(value, controls, sign)
        return np.concatenate([z[:, None], z_controls], axis=1)
    if rule == "scaled":
        units = units - units.mean(axis=1, keepdims=True)
        areas = np.array([float(r.get("erased_fraction", 1.0)) for r in main])
        return sign * units / size_scales(units[None], areas)[:, None]
    return sign * units


def judge_runs(runs: list[list[dict]], sign: int, level: float = LEVEL, key: str = "s",
               control_key: str = "control_s", selection_rule: str = "raw",
               placements: int | None = None,
               covers: dict[str, list[set[str]]] | None = None) -> tuple[list[tuple[dict, dict]], dict]:
    """One test per word over the original direction's rows ``runs[0]`` and the same direction
    on perturbed copies ``runs[1:]`` (see the module docs), for the expected sign ``sign``.
    ``placements`` is the K a complete draw has (default: the most any word has); a word with
    fewer was stopped by the sequential rule, and its ``p_value`` is Besag and Clifford's.

    Returns ``[(row, annotations)]`` for the judged rows of ``runs[0]`` (nothing is written into
    them) and the direction's summary. Without judged rows: ``([], summary)`` with ``top`` None.
    ``covers`` maps a word's attribute to, per placement, the attributes whose region that
    placement covers (:func:`~s2w_toolkit.sim2word.placements.placement_covers`); a placement is
    left out of the selection-matched control of the words it covers: a random region that
    erases the word's own region is not a region elsewhere, and under an effect there it would
    take the word's effect for chance."""
    if selection_rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {selection_rule!r}; use one of {SELECTION_RULES}")
    main, values, controls, drawn = _table(runs, key, control_key)
    empty = {"selection": [], "selection_statistic": [], "top": None, "selection_win_rate": None, "supported": []}
    if not main:
        return [], empty
    k = int(drawn.max()) if placements is None else int(placements)
    value = np.nanmean(values, axis=0)  # the word's value, pooled over the photo and its copies
    # the own test in the value's units, whatever the rule (each rule orders a word's units alike);
    # a NaN placement beats the word
    beaten = (sign * (controls - value[:, None]) >= -1e-12) | np.isnan(controls)
    beaten &= np.arange(controls.shape[1])[None] < drawn[:, None]
    beats = np.count_nonzero(beaten, axis=1)
    complete = bool((drawn >= k).all())
    if complete:
        own_p = (1 + beats) / (k + 1)
        scored = _scored(value, controls[:, :k], main, sign, selection_rule)
        scored = np.where(np.isnan(scored), np.inf, scored)
        statistic, placed = scored[:, 0], scored[:, 1:]
        best = placed.max(axis=0)  # the selection-matched control: the best word's k-th placement
        per_word = _elsewhere(placed, main, covers) if covers else best[None]  # (J or 1, K)
        selection_p = (1 + np.count_nonzero(per_word >= statistic[:, None] - 1e-12, axis=1)) / (k + 1)
    else:  # the sequential rule stopped here: no word passed its own test, the selection was not drawn
        own_p = np.array([_besag_clifford(beaten[j, :drawn[j]], k, level) for j in range(len(main))])
    mean = np.nanmean(controls, axis=1)
    excess = values - mean[None]  # (R, J)
    moves = _moves_the_right_way(main, value, key, sign)
    runs_top = _tops(sign * excess)
    judged = []
    for j, row in enumerate(main):
        c = controls[j, :drawn[j]]
        note = {"control_mean": float(mean[j]), "control_std": float(c.std(ddof=1)) if len(c) > 1 else 0.0,
                "excess": float(excess[0, j]), "p_value": float(own_p[j])}
        if complete:
            note.update({"statistic": float(statistic[j]), "p_selection": float(selection_p[j]),
                         "supported": bool(own_p[j] <= level + 1e-12 and selection_p[j] <= level + 1e-12
                                           and moves[j])})
            if selection_rule != "raw":
                note["z"] = float(statistic[j])
        else:
            note.update({"statistic": None, "p_selection": None, "supported": False,
                         "placements_drawn": int(drawn[j])})
        if len(runs) > 1:
            note["copies"] = int(np.count_nonzero(~np.isnan(values[:, j])))
            note["pooled_excess"] = float(np.nanmean(excess[:, j]))
            note["agreement"] = float(np.mean(runs_top == j))
        judged.append((row, note))
    summary = dict(empty)
    if len(runs) > 1:
        summary["copies"] = len(runs)
    if not complete:
        return judged, {**summary, "sequential_stop": True}
    supported = sorted((pair for pair in judged if pair[1]["supported"]), key=lambda p: sign * p[1]["excess"],
                       reverse=True)
    top = supported[0][1] if supported else None
    summary.update({"selection": (sign * (sign * controls[:, :k]).max(axis=0)).tolist(),
                    "selection_statistic": best.tolist(),
                    "top": None if top is None else supported[0][0]["attribute"],
                    "supported": [row["attribute"] for row, _ in supported],
                    "selection_win_rate": None if top is None else float(np.mean(top["statistic"] > best))})
    if selection_rule != "raw":
        summary["selection_z"] = best.tolist()
    return judged, summary


def _elsewhere(placed: np.ndarray, main: list[dict], covers: dict[str, list[set[str]]]) -> np.ndarray:
    """``(J, K)``: for each word j, the best k-th placement over the words whose k-th placement
    does not cover j's region (-inf where every one does)."""
    names = [row["attribute"] for row in main]
    out = np.empty(placed.shape)
    for j, name in enumerate(names):
        covered = np.array([[c < len(covers.get(other, [])) and name in covers[other][c]
                             for c in range(placed.shape[1])] for other in names])
        out[j] = np.where(covered, -np.inf, placed).max(axis=0)
    return out


def _moves_the_right_way(main: list[dict], value: np.ndarray, key: str, sign: int) -> np.ndarray:
    """Per word: whether its pooled value moved from the photo's unerased value in the direction
    ``sign`` (a distinguishing word's erasure must raise the cosine, a shared word's lower it;
    beating its placements alone could mean it moves the score *less* than they do). True where
    a row does not say its change (``delta``)."""
    change = "delta_u" if key == "u" else "delta"
    base = np.array([float(r[key]) - float(r[change]) if change in r else np.nan for r in main])
    return np.where(np.isnan(base), True, sign * (value - base) > 0)


def _besag_clifford(beaten: np.ndarray, placements: int, level: float) -> float:
    """Besag and Clifford's p-value of a word whose placements ``beaten`` (in draw order) did or
    did not do at least as well: h / L where the h-th (:func:`stop_after`) beat came at draw L,
    else (1 + beats) / (n + 1)."""
    h = stop_after(placements, level)
    hits = np.flatnonzero(beaten)
    if h > 0 and len(hits) >= h:
        return h / float(hits[h - 1] + 1)
    return (1 + len(hits)) / (len(beaten) + 1)


def _tops(excess: np.ndarray) -> np.ndarray:
    """Per run, the index of the word with the largest oriented excess ``(R, J)`` (-1 where the
    run judged no word)."""
    filled = np.where(np.isnan(excess), -np.inf, excess)
    return np.where(np.isfinite(filled).any(axis=1), filled.argmax(axis=1), -1)


def judge_direction(rows: list[dict], sign: int, level: float = LEVEL, key: str = "s",
                    control_key: str = "control_s", selection_rule: str = "raw",
                    copies: Sequence[list[dict]] = (), placements: int | None = None) -> dict[str, Any]:
    """:func:`judge_runs` over ``rows`` and the same direction's rows on perturbed ``copies``,
    its annotations written into the eligible ``rows`` in place; returns the summary."""
    judged, summary = judge_runs([rows, *copies], sign, level, key, control_key, selection_rule, placements)
    for row, note in judged:
        row.update(note)
    return summary
