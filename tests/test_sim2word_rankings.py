"""Both rankings for every pair: a model that reads two regions, where the faces agree on one and
differ on the other, gives a shared word and a distinguishing word, for a mate and a non-mate
alike; the verdict only decides which leads. And the pooled test at the default settings on a
model that reads one region: it names that region's word, and none when the words cover nothing
the model reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.interfaces import Pair
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.sim2word.explainer import to_explanation
from s2w_toolkit.sim2word.rankings import judge_rankings

from test_sim2word_support import REGION, SIZE, SQUARES, RegionOnly, Squares

SAME = (slice(10, 18), slice(10, 18))  # the faces agree here
DIFFERENT = (slice(40, 48), slice(40, 48))  # and differ here
BOXES = {"Same": (10, 10), "Different": (40, 40), "Left": (10, 40), "Right": (40, 10)}


class TwoRegions(RegionOnly):
    """Embedding = the pixels of SAME and DIFFERENT (through RegionOnly's 1x1 convolution, for the maps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return torch.cat([y[:, :, SAME[0], SAME[1]].flatten(1), y[:, :, DIFFERENT[0], DIFFERENT[1]].flatten(1)], 1)


def _pair(net, seed: int = 0) -> Pair:
    rng = np.random.default_rng(seed)
    a = rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8)
    b = rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8)
    a[SAME] = b[SAME] = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # the faces agree
    a[DIFFERENT], b[DIFFERENT] = 255, 0  # and differ
    x = net.preprocess(np.stack([a, b]))
    return Pair(a=x[:1], b=x[1:], image_a=a, image_b=b)


SETTINGS = Settings(ablation="no-counterfactual", mask_rule="absolute", stability=0, selection="scaled")


@pytest.mark.parametrize("threshold, case", [(-0.99, "mate"), (0.99, "non-mate")])
def test_both_rankings_are_there_for_a_mate_and_a_non_mate(threshold, case):
    net = wrap_module(TwoRegions(), input_size=(SIZE, SIZE), threshold=threshold, name="two-regions")
    result = run_sim2word(net, _pair(net), Squares(BOXES), SETTINGS)
    e = to_explanation(result)
    assert e.metadata["case"] == case
    for d in result.directions:
        assert [r["attribute"] for r in d.words("distinguishing")] == ["Different"]
        assert [r["attribute"] for r in d.words("shared")] == ["Same"]
        lead = "Same" if case == "mate" else "Different"
        assert [r["attribute"] for r in d.words()] == [lead]  # the verdict's ranking leads
    rankings = e.metadata["rankings"]
    assert {w["details"]["attribute"] for w in rankings["distinguishing"]} == {"Different"}
    assert {w["details"]["attribute"] for w in rankings["shared"]} == {"Same"}
    assert all(w["details"]["ranking"] == "distinguishing" and w["details"]["p_value"] <= 0.1
               for w in rankings["distinguishing"])
    assert e.metadata["lead_ranking"] == ("shared" if case == "mate" else "distinguishing")
    other = "Distinguishing nonetheless: the different" if case == "mate" else "Shared nonetheless: the same"
    assert other in e.metadata["caption"]
    assert {w.details["attribute"] for w in e.words} == {"Same" if case == "mate" else "Different"}


def test_an_empty_other_ranking_is_said_in_the_caption():
    net = wrap_module(RegionOnly(), input_size=(SIZE, SIZE), threshold=0.99, name="region-only")
    rng = np.random.default_rng(0)
    a, b = (rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(2))
    a[REGION], b[REGION] = 255, 0
    x = net.preprocess(np.stack([a, b]))
    e = to_explanation(run_sim2word(net, Pair(a=x[:1], b=x[1:], image_a=a, image_b=b), Squares(), SETTINGS))
    assert e.metadata["rankings"]["shared"] == [] and len(e.metadata["rankings"]["distinguishing"]) == 2
    assert "No attribute is shared beyond a region of the same size" in e.metadata["caption"]


def test_each_ranking_is_judged_with_its_own_sign():
    rows = [{"attribute": "Up", "eligible": True, "s": 0.9, "control_s": [0.5] * 9 + [0.6] * 10},
            {"attribute": "Down", "eligible": True, "s": 0.1, "control_s": [0.5] * 9 + [0.4] * 10}]
    summary = judge_rankings(rows, sign=-1, level=0.1)  # a mate: shared leads
    assert summary["top"] == "Down" and summary["rankings"]["distinguishing"]["top"] == "Up"
    assert rows[0]["rankings"]["distinguishing"]["supported"] and not rows[0]["rankings"]["shared"]["supported"]
    assert rows[1]["supported"] and not rows[0]["supported"]  # the top-level keys are the lead's


def _named(reads_target: bool, seed: int) -> list[list[str]]:
    """The words the default settings name on both directions of a random pair for a model that
    reads one 8x8 region; the squares cover it (``reads_target``) or only other places."""
    net = wrap_module(RegionOnly(), input_size=(SIZE, SIZE), threshold=0.99, name="region-only")
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(2))
    a[REGION] = rng.integers(150, 256, (8, 8, 3))
    b[REGION] = rng.integers(0, 100, (8, 8, 3))
    x = net.preprocess(np.stack([a, b]))
    squares = SQUARES if reads_target else {k: v for k, v in SQUARES.items() if k != "Target"}
    result = run_sim2word(net, Pair(a=x[:1], b=x[1:], image_a=a, image_b=b), Squares(squares), Settings(seed=seed))
    return [[r["attribute"] for r in d.words()] for d in result.directions]


def test_the_default_pooled_test_names_the_region_the_model_reads_and_nothing_else():
    found = [words == ["Target"] for seed in range(10) for words in _named(True, seed)]
    assert np.mean(found) >= 0.9, found
    assert all(words == [] for seed in range(10) for words in _named(False, seed))


def test_a_region_the_network_ignores_is_not_distinguishing():
    """A mate: every placement lowers the cosine a lot, erasing the cheeks lowers it a little.
    The cheeks beat their placements upwards, but erasing them does not make the faces more alike,
    so they are not a distinguishing word; the eyes, whose erasure lowers it most, are shared."""
    base = 0.95
    rows = [{"attribute": "Cheeks", "eligible": True, "s": 0.94, "delta": 0.94 - base,
             "control_s": list(np.linspace(0.80, 0.90, 19))},
            {"attribute": "Eyes", "eligible": True, "s": 0.60, "delta": 0.60 - base,
             "control_s": list(np.linspace(0.80, 0.90, 19))}]
    summary = judge_rankings(rows, sign=-1, level=0.1, selection_rule="raw")
    cheeks, eyes = rows
    assert cheeks["rankings"]["distinguishing"]["p_value"] == pytest.approx(0.05)  # beats every placement upwards
    assert not cheeks["rankings"]["distinguishing"]["supported"]  # but erasing it lowers the cosine
    assert eyes["supported"] and summary["top"] == "Eyes" and summary["rankings"]["distinguishing"]["top"] is None
