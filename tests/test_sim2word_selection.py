"""The selection-matched control compared like with like (Westfall and Young's max-T): a small
word in the right place can beat it, the family-wise error over the words stays at the level, and
the raw rule's failure on masks of different sizes is shown with numbers."""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit.sim2word.support import judge_direction, standardised

K = 19


BASE = 0.78  # the cosine with nothing erased


def _rows(values, controls, areas=None) -> list[dict]:
    areas = areas if areas is not None else [0.1] * len(values)
    return [{"attribute": f"w{j}", "eligible": True, "s": float(v), "delta": float(v) - BASE,
             "erased_fraction": float(area), "control_s": [float(c) for c in cs]}
            for j, (v, cs, area) in enumerate(zip(values, controls, areas))]


def test_a_small_word_in_the_right_place_beats_a_large_mask_placed_anywhere_only_under_max_t():
    """The audit pair of issue 30 in miniature: erasing Male's small region raises the cosine by
    more than all 19 of its own placements, but Age's large mask placed anywhere moves it more."""
    grid = np.linspace(-1.0, 1.0, K)
    male = 0.79 + 0.01 * grid          # its own placements: 0.78-0.80
    age = 0.81 + 0.05 * grid           # a mask 4x larger: placements 0.76-0.86
    values = [0.823, 0.80]             # Male's erasure beats all of its own; Age's is ordinary
    raw = _rows(values, [male, age])
    judge_direction(raw, sign=1, level=0.1, selection_rule="raw")
    assert raw[0]["p_value"] == pytest.approx(0.05) and raw[0]["p_selection"] > 0.3 and not raw[0]["supported"]
    new = _rows(values, [male, age])
    summary = judge_direction(new, sign=1, level=0.1, selection_rule="max-t")
    assert new[0]["p_selection"] == pytest.approx(0.05) and new[0]["supported"] and summary["top"] == "w0"
    assert not new[1]["supported"] and summary["selection_win_rate"] == 1.0
    assert len(summary["selection_z"]) == K and new[0]["z"] > max(summary["selection_z"])
    scaled = _rows(values, [male, age], areas=[0.055, 0.21])  # Male's region is 4x smaller
    summary = judge_direction(scaled, sign=1, level=0.1, selection_rule="scaled")
    assert scaled[0]["supported"] and summary["top"] == "w0" and not scaled[1]["supported"]


def _simulate(rule: str, effect: float, seed: int, n: int = 600) -> tuple[float, float]:
    """Over ``n`` directions of 6 words whose control spreads differ 20-fold, the rate at which any
    word is supported, and the rate at which word 0 (the smallest spread) is, when word 0's
    erasure lies ``effect`` of its own spreads above its controls' mean (0: the null)."""
    rng = np.random.default_rng(seed)
    scales = np.array([0.005, 0.01, 0.02, 0.04, 0.07, 0.1])
    areas = scales / 0.2  # a mask's typical change grows with its size
    any_named = first_named = 0
    for _ in range(n):
        controls = 0.8 + scales[:, None] * rng.standard_normal((6, K))
        values = 0.8 + scales * rng.standard_normal(6)
        values[0] = 0.8 + scales[0] * effect if effect else values[0]
        rows = _rows(values, controls, areas)
        summary = judge_direction(rows, sign=1, level=0.1, selection_rule=rule)
        any_named += bool(summary["supported"])
        first_named += rows[0]["supported"]
    return any_named / n, first_named / n


@pytest.mark.parametrize("rule", ["max-t", "scaled"])
def test_max_t_keeps_the_family_wise_error_at_the_level_and_finds_a_small_word(rule):
    null_any, _ = _simulate(rule, effect=0.0, seed=1)
    assert null_any <= 0.1 + 3 * np.sqrt(0.1 * 0.9 / 600)  # family-wise error at most the level
    _, found_new = _simulate(rule, effect=4.0, seed=2)
    _, found_raw = _simulate("raw", effect=4.0, seed=2)
    assert found_new >= 0.9 and found_raw <= 0.2, (found_new, found_raw)


def test_standardised_values_are_oriented_by_the_sign():
    z, zc = standardised(np.array([0.5]), np.array([[0.6, 0.7]]), sign=-1)  # lower is better for a mate
    assert z[0] > 0 and (zc[0] < z[0]).all()


def test_the_rule_reaches_the_explanation(tmp_path):
    from s2w_toolkit.sim2word.core import run_sim2word
    from s2w_toolkit.sim2word.settings import Settings
    from s2w_toolkit.attributes.composite import load_attributes
    from s2w_toolkit.testing import demo_pair, tiny_backbone

    net = tiny_backbone()
    pair = demo_pair(net)
    result = run_sim2word(net, pair, load_attributes("face-parts"), Settings(placements=4, stability=0,
                                                                            selection="max-t"))
    for d in result.directions:
        judged = [r for r in d.rows if "p_selection" in r]
        assert judged and all("z" in r for r in judged) and len(d.summary["selection_z"]) == 4
    with pytest.raises(ValueError, match="unknown selection"):
        Settings(selection="best")


def test_a_placement_that_covers_a_words_region_is_left_out_of_its_selection_control():
    """Two words; at two of its placements, B lands on A's region and scores what A scores. With
    those left out of A's selection-matched control (``covers``), A beats every other one; with
    them in, A's p_selection is 3 / 6. B's own control keeps them (they do not cover B)."""
    from s2w_toolkit.sim2word.support import judge_runs

    def rows():
        return [{"attribute": "A", "eligible": True, "s": 0.9, "control_s": [0.5, 0.52, 0.49, 0.51, 0.5]},
                {"attribute": "B", "eligible": True, "s": 0.5, "control_s": [0.9, 0.9, 0.5, 0.52, 0.48]}]

    covers = {"A": [set()] * 5, "B": [{"A"}, {"A"}, set(), set(), set()]}
    plain = {r["attribute"]: n for r, n in judge_runs([rows()], 1, 0.2, selection_rule="raw")[0]}
    apart = {r["attribute"]: n for r, n in judge_runs([rows()], 1, 0.2, selection_rule="raw", covers=covers)[0]}
    assert plain["A"]["p_selection"] == pytest.approx(3 / 6) and not plain["A"]["supported"]
    assert apart["A"]["p_selection"] == pytest.approx(1 / 6) and apart["A"]["supported"]
    assert apart["B"]["p_selection"] == plain["B"]["p_selection"]
