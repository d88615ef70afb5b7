"""Verification statistics of s2w_toolkit.bench.verification, on hand-made and synthetic score lists."""

import json
import math

import numpy as np
import pytest

from s2w_toolkit.bench.metrics import fmr_fnmr, tpr_at_fpr
from s2w_toolkit.bench.verification import (det_points, equal_error_rate, rates_at_threshold, roc_points,
                                            threshold_for_fmr, tpr_at_fmr, verification_summary)


@pytest.fixture(scope="module")
def synthetic():
    """1000 non-mates and 200 mates with distinct scores (no ties anywhere)."""
    rng = np.random.default_rng(7)
    scores = rng.permutation(np.linspace(-0.2, 0.99, 1200))
    same = np.zeros(1200, dtype=bool)
    same[np.argsort(scores)[-300:][rng.permutation(300)[:200]]] = True  # mates mostly among the high scores
    return scores.tolist(), same.tolist()


@pytest.mark.parametrize("target", [0.25, 0.1, 0.01, 0.003, 0.001])
def test_threshold_hits_a_reachable_target_fmr_exactly(synthetic, target):
    scores, same = synthetic
    t = threshold_for_fmr(scores, same, target)
    assert fmr_fnmr(scores, same, t)[0] == target  # target * 1000 non-mates is an integer: exact
    assert fmr_fnmr(scores, same, float(np.nextafter(t, -np.inf)))[0] > target  # and it is the lowest such


def test_ties_at_the_cut_are_rejected_together():
    scores = [0.9, 0.8, 0.7, 0.7, 0.7, 0.1, 0.95]  # non-mates 0.9 .. 0.1, one mate
    same = [False] * 6 + [True]
    t = threshold_for_fmr(scores, same, 0.5)  # 3 of 6 allowed, but the 3rd ties with the 4th and 5th
    assert 0.7 < t < 0.7001 and fmr_fnmr(scores, same, t)[0] == pytest.approx(2 / 6)


def test_a_target_below_one_over_n_warns_and_accepts_no_non_mate():
    scores, same = [0.9, 0.5, 0.4, 0.3], [True, False, False, False]
    with pytest.warns(UserWarning, match=r"below 1/3"):
        t = threshold_for_fmr(scores, same, 0.1)
    assert t == float(np.nextafter(0.5, 1.0)) and fmr_fnmr(scores, same, t) == (0.0, 0.0)
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            threshold_for_fmr(scores, same, bad)
    with pytest.raises(ValueError, match="at least one non-mate"):
        threshold_for_fmr([0.9], [True], 0.1)


def test_eer_equals_the_hand_computed_value():
    # mates 0.9, 0.6, 0.3; non-mates 0.8, 0.5, 0.2, 0.1. At t = 0.6: FMR 1/4, FNMR 1/3 (FMR - FNMR
    # = -1/12); at t = 0.5: FMR 2/4, FNMR 1/3 (+1/6). The segment crosses FMR = FNMR a third of the
    # way: FMR = 1/4 + (1/3)(1/4) = 1/3, FNMR = 1/3; threshold 0.6 + (1/3)(0.5 - 0.6).
    scores = [0.9, 0.8, 0.6, 0.5, 0.3, 0.2, 0.1]
    same = [True, False, True, False, True, False, False]
    eer = equal_error_rate(scores, same)
    assert eer["eer"] == pytest.approx(1 / 3, abs=1e-12)
    assert eer["threshold"] == pytest.approx(0.6 - 0.1 / 3, abs=1e-12) and eer["interpolated"] is True
    assert eer["between"] == [{"threshold": 0.6, "fmr": 0.25, "fnmr": pytest.approx(1 / 3)},
                              {"threshold": 0.5, "fmr": 0.5, "fnmr": pytest.approx(1 / 3)}]
    exact = equal_error_rate([0.9, 0.6, 0.7, 0.2], [True, True, False, False])  # t = 0.7: FMR = FNMR = 1/2
    assert exact == {"eer": 0.5, "threshold": 0.7, "interpolated": False, "between": []}
    assert equal_error_rate([0.9, 0.6], [True, True])["eer"] is None


def test_tpr_at_fmr_says_when_it_cannot_be_measured():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.6, 1.0, 14), rng.uniform(0.0, 0.7, 91)]).tolist()
    same = [True] * 14 + [False] * 91
    rows = {r["fmr"]: r for r in tpr_at_fmr(scores, same)}
    assert rows[0.1]["note"] is None and rows[0.1]["tpr"] == tpr_at_fpr(scores, same, [0.1])[0.1]
    assert rows[0.1]["achieved_fmr"] == 9 / 91 and rows[0.1]["threshold"] is not None
    assert rows[0.01] == {"fmr": 0.01, "tpr": None, "threshold": None, "achieved_fmr": None,
                          "note": "not measurable: needs at least 100 non-mates, have 91"}
    assert rows[0.001]["note"] == "not measurable: needs at least 1000 non-mates, have 91"
    hundred = tpr_at_fmr(scores[:14] + [0.1] * 100, same[:14] + [False] * 100, [0.01])[0]
    assert hundred["note"] is None and hundred["tpr"] == 1.0  # 1/N is measurable
    assert "needs mates and non-mates" in tpr_at_fmr([0.5], [False], [0.1])[0]["note"]


def test_roc_keeps_the_corners_of_the_staircase():
    # descending: M M M N N N M N, so the accepted counts (non-mates, mates) run (0,0) (0,1) (0,2)
    # (0,3) (1,3) (2,3) (3,3) (3,4) (4,4); the corners are (0,0) (0,3) (3,3) (3,4) (4,4)
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    same = [True, True, True, False, False, False, True, False]
    roc = roc_points(scores, same)
    assert roc["fmr"] == [0.0, 0.0, 0.75, 0.75, 1.0] and roc["tpr"] == [0.0, 0.75, 0.75, 1.0, 1.0]
    assert roc["threshold"][1:] == [0.7, 0.4, 0.3, 0.2] and roc["threshold"][0] > 0.9
    full = roc_points(scores, same, compact=False)
    assert len(full["fmr"]) == 9 and full["tpr"][1] == 0.25
    det = det_points(scores, same)
    assert det["fnmr"] == [1.0, 0.25, 0.25, 0.0, 0.0] and det["threshold"] == roc["threshold"]


def test_curves_of_thousands_of_pairs_stay_small(synthetic):
    scores, same = synthetic
    compact, full = roc_points(scores, same), roc_points(scores, same, compact=False)
    assert len(full["fmr"]) == 1201 and len(compact["fmr"]) < 200
    for fmr, tpr in zip(full["fmr"], full["tpr"]):  # every dropped point lies on the drawn staircase
        assert any((a == fmr == b and min(c, d) <= tpr <= max(c, d)) or (c == tpr == d and a <= fmr <= b)
                   for a, b, c, d in zip(compact["fmr"], compact["fmr"][1:], compact["tpr"], compact["tpr"][1:]))


def test_rates_and_summary_are_plain_json():
    scores, same = [0.9, 0.8, 0.6, 0.5, 0.3, 0.2, 0.1], [True, False, True, False, True, False, False]
    at = rates_at_threshold(scores, same, 0.55)
    assert at == {"threshold": 0.55, "fmr": 0.25, "fnmr": pytest.approx(1 / 3), "false_matches": 1, "non_mates": 4,
                  "false_non_matches": 1, "mates": 3}
    summary = verification_summary(scores, same, 0.55)
    assert summary["roc_auc"] == 0.75 and summary["eer"]["eer"] == pytest.approx(1 / 3)
    json.dumps(summary, allow_nan=False)
    mates_only = verification_summary([0.9, 0.8], [True, True], 0.5)
    assert mates_only["roc_auc"] is None and mates_only["roc"] is None and mates_only["at_threshold"]["fmr"] is None
    json.dumps(mates_only, allow_nan=False)
    with pytest.raises(ValueError, match="not finite"):
        verification_summary([0.9, math.nan], [True, False], 0.5)
