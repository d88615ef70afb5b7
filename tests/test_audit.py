"""Issue 16: the audit's numbers on synthetic scores, against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit.audit.groups import group_rates
from s2w_toolkit.audit.outcomes import choose_threshold, outcomes, select_pairs
from s2w_toolkit.audit.summary import build_summary, group_tests
from s2w_toolkit.audit.words import word_table

# 5 mates, 7 non-mates; at 0.5: mates 0.45 and 0.30 rejected (2 FNM), non-mates 0.55 and 0.70 accepted (2 FM)
SCORES = [("m1", True, 0.95), ("m2", True, 0.80), ("m3", True, 0.60), ("m4", True, 0.45), ("m5", True, 0.30),
          ("n1", False, 0.70), ("n2", False, 0.55), ("n3", False, 0.40), ("n4", False, 0.35), ("n5", False, 0.20),
          ("n6", False, 0.10), ("n7", False, 0.05)]


def _rows(groups=None):
    return [{"key": k, "a": f"{k}a.jpg", "b": f"{k}b.jpg", "same": s, "similarity": v,
             "groups": (groups or {}).get(k, {})} for k, s, v in SCORES]


def test_error_counts_rates_and_eer_equal_hand_computed_values():
    summary = build_summary(_rows(), [], {"threshold": 0.5, "source": "given", "fmr": None})
    c = summary["counts"]
    assert (c["mates"], c["non_mates"], c["false_matches"], c["false_non_matches"]) == (5, 7, 2, 2)
    assert (c["true_matches"], c["true_non_matches"]) == (3, 5)
    at = summary["verification"]["at_threshold"]
    assert at["fmr"] == pytest.approx(2 / 7) and at["fnmr"] == pytest.approx(2 / 5)
    # operating points (FMR, FNMR) as the threshold falls: t in (0.55, 0.60] gives (1/7, 2/5), t in
    # (0.45, 0.55] gives (2/7, 2/5), t in (0.40, 0.45] gives (2/7, 1/5): FNMR crosses FMR at FMR = 2/7
    assert summary["verification"]["eer"]["eer"] == pytest.approx(2 / 7, abs=1e-9)
    roc_auc = np.mean([[float(m > n) for n in (0.70, 0.55, 0.40, 0.35, 0.20, 0.10, 0.05)]
                       for m in (0.95, 0.80, 0.60, 0.45, 0.30)])
    assert summary["verification"]["roc_auc"] == pytest.approx(roc_auc)


def test_the_errors_and_their_neighbours_are_chosen_for_explanation():
    chosen = select_pairs(_rows(), 0.5, errors=1, near=1, contrast=2, seed=3)
    assert chosen["n1"] == ["false match"] and "false match" not in chosen["n2"]  # the worst one only
    assert chosen["m5"] == ["false non-match"] and "m4" in chosen  # m4 is the nearest rejected pair that is not chosen
    assert chosen["m4"][0] == "near the threshold (rejected)"
    assert chosen["n2"][0] == "near the threshold (accepted)"
    samples = [k for k, why in chosen.items() if any("sample" in w for w in why)]
    assert sum(k.startswith("m") for k in samples) == 2 and sum(k.startswith("n") for k in samples) == 2
    assert select_pairs(_rows(), 0.5, errors=1, near=1, contrast=2, seed=3) == chosen  # seeded


def test_a_threshold_calibrated_on_the_pairs_says_so():
    t = choose_threshold(_rows(), 0.9, "the backbone's", fmr=1 / 7)
    assert outcomes(_rows(), t["threshold"])["n2"] == "true non-match"
    assert sum(v == "false match" for v in outcomes(_rows(), t["threshold"]).values()) == 1
    assert "calibrated on these 12 pairs" in t["source"] and "optimistic" in t["source"]
    assert choose_threshold(_rows(), 0.9, "--threshold 0.9")["source"] == "--threshold 0.9"


def _explained(kind, planted, noise_rate, seed=0):
    """One Sim2Word row per pair: ``planted`` named in every false match and no true non-match;
    "Smiling" named at random (``noise_rate``) whatever the outcome."""
    rng = np.random.default_rng(seed)
    rows = []
    for key, outcome in kind.items():
        words = [{"text": planted, "score": 0.1}] if outcome == "false match" else []
        if rng.random() < noise_rate:
            words.append({"text": "Smiling", "score": 0.05})
        rows.append({"key": key, "explainer": "sim2word", "words": words})
    return rows


def test_a_planted_word_of_every_false_match_is_found_and_an_independent_one_is_not():
    kind = {f"fm{i}": "false match" for i in range(12)} | {f"tn{i}": "true non-match" for i in range(14)}
    kind |= {f"fnm{i}": "false non-match" for i in range(6)} | {f"tm{i}": "true match" for i in range(8)}
    table = word_table(_explained(kind, "Gray Hair", 0.5), kind)["sim2word"]
    gray = next(r for r in table if r["word"] == "Gray Hair" and r["error"] == "false match")
    assert (gray["errors"], gray["errors_n"], gray["correct"], gray["correct_n"]) == (12, 12, 0, 14)
    assert gray["finding"] and gray["p_holm"] < 1e-5 and gray["low"] > 0.5
    smiling = [r for r in table if r["word"] == "Smiling"]
    assert smiling and not any(r["finding"] for r in smiling)  # present at random in errors and correct pairs
    summary = build_summary([], _explained(kind, "Gray Hair", 0.5), {"threshold": 0.5, "source": "", "fmr": None})
    assert summary["counts"]["scored"] == 0  # no scores, no outcomes: nothing is claimed from words alone
    kind_shuffled = dict(zip(kind, np.random.default_rng(1).permutation(list(kind.values()))))
    rows = _explained(kind, "Gray Hair", 0.5)  # the same words, outcomes shuffled: no finding
    assert not any(r["finding"] for r in word_table(rows, kind_shuffled)["sim2word"] if r["word"] == "Smiling")


def test_group_rates_equal_hand_counts():
    g = {"m1": ("F", "F"), "m2": ("F", "F"), "m4": ("F", "F"), "m3": ("M", "M"), "m5": ("M", "M"),
         "n1": ("F", "F"), "n2": ("M", "F"), "n3": ("F", "F"), "n4": ("M", "M"), "n5": ("M", "M"), "n6": ("F", "M"),
         "n7": ("M", "M")}
    groups = {k: {"a": {"Gender": a}, "b": {"Gender": b}} for k, (a, b) in g.items()}
    rates = group_rates(_rows(groups), 0.5)["Gender"]
    # F mates m1 m2 m4: m4 (0.45) rejected; M mates m3 m5: m5 rejected
    assert (rates["F"]["mates"], rates["F"]["false_non_matches"]) == (3, 1)
    assert (rates["M"]["mates"], rates["M"]["false_non_matches"]) == (2, 1)
    # F non-mates n1 n3: n1 (0.70) accepted; M non-mates n4 n5 n7: none; mixed n2 n6: n2 (0.55) accepted
    assert (rates["F"]["non_mates"], rates["F"]["false_matches"], rates["F"]["fmr"]) == (2, 1, 0.5)
    assert (rates["M"]["non_mates"], rates["M"]["false_matches"], rates["M"]["fmr"]) == (3, 0, 0.0)
    assert (rates["mixed"]["non_mates"], rates["mixed"]["false_matches"], rates["mixed"]["mates"]) == (2, 1, 0)
    assert rates["F"]["fmr_low"] < 0.5 < rates["F"]["fmr_high"]
    assert list(rates) == ["F", "M", "mixed"]


def test_a_group_with_many_more_errors_is_a_finding_and_equal_groups_are_not():
    rows = []
    for i in range(40):  # 40 non-mates per group: group X accepted 20 times, group Y twice
        for group, accepted in (("X", i < 20), ("Y", i < 2)):
            rows.append({"key": f"{group}{i}", "same": False, "similarity": 0.9 if accepted else 0.1,
                         "groups": {"a": {"Race": group}, "b": {"Race": group}}})
    tests = group_tests(group_rates(rows, 0.5))
    x = next(t for t in tests if t["group"] == "X" and t["rate"] == "fmr")
    assert x["finding"] and (x["k"], x["n"], x["rest_k"], x["rest_n"]) == (20, 40, 2, 40)
    assert [t["rate"] for t in tests].count("fmr") == 1  # two groups: one comparison, not two mirrored ones
    even = [{**r, "similarity": 0.9 if int(r["key"][1:]) < 10 else 0.1} for r in rows]
    mixed = [{"key": f"m{i}", "same": False, "similarity": 0.1, "groups": {"a": {"Race": "X"}, "b": {"Race": "Y"}}}
             for i in range(80)]  # many rejected mixed pairs must not make both groups look worse
    assert not any(t["finding"] for t in group_tests(group_rates(even + mixed, 0.5)))
