"""Sequential controls (Besag and Clifford): the same decisions as the full draw, on hand-made
control values, for fewer erased images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2w_toolkit.sim2word.rankings import judge_rankings
from s2w_toolkit.sim2word.sequential import draw_controls
from s2w_toolkit.sim2word.support import stop_after

K, LEVEL = 19, 0.1


def _placed(words: int) -> torch.Tensor:
    """Placement (j, k) is the single pixel j * K + k: the scorer can tell which one it is."""
    side = int(np.ceil(np.sqrt(words * K)))
    placed = torch.zeros(1, words, K, side, side, dtype=torch.bool)
    for j in range(words):
        for k in range(K):
            placed[0, j, k].view(-1)[j * K + k] = True
    return placed


def _run(values: np.ndarray, table: np.ndarray, areas: np.ndarray, stop: int, rule: str):
    """Draw with ``stop`` (0: the full draw) and judge both rankings; returns the decisions, the
    images scored and the placements drawn."""
    words = len(values)
    placed = _placed(words)
    scored = [0]

    def score(masks: torch.Tensor) -> torch.Tensor:
        flat = masks[0].flatten(1)
        out = torch.full((1, len(flat)), float(np.median(values)))
        for m, mask in enumerate(flat):
            if mask.any():
                index = int(mask.nonzero()[0])
                out[0, m] = float(table[index // K, index % K])
                scored[0] += 1
        return out

    controls, drawn = draw_controls(score, placed, torch.tensor(values[None], dtype=torch.float32),
                                    torch.ones(1, words, dtype=torch.bool), [(1, -1)], stop, round_size=4)
    rows = [{"attribute": f"w{j}", "word": f"w{j}", "eligible": True, "s": float(values[j]),
             "erased_fraction": float(areas[j]), "control_s": controls[0, j, :int(drawn[0, j])].tolist()}
            for j in range(words)]
    judge_rankings(rows, 1, LEVEL, selection_rule=rule, placements=K)
    decisions = [(r["rankings"]["distinguishing"]["supported"], r["rankings"]["shared"]["supported"]) for r in rows]
    return decisions, scored[0], drawn


def _direction(rng: np.random.Generator, words: int = 7):
    """A direction of hand-made values: spreads growing with the mask's size, one word (maybe)
    shifted up or down by 0 to 5 of its spreads, and ties where a placement lands on the word."""
    areas = np.geomspace(0.02, 0.25, words)
    spread = 0.1 * areas ** 0.7
    table = 0.5 + spread[:, None] * rng.standard_normal((words, K))
    values = (0.5 + spread * rng.standard_normal(words)).astype(np.float32)
    j = rng.integers(words)
    values[j] = 0.5 + spread[j] * rng.choice([-1, 1]) * rng.uniform(0, 5)
    table = table.astype(np.float32)
    table[rng.integers(words), rng.integers(K)] = values[rng.integers(words)]  # a tie somewhere
    return values, table, areas


@pytest.mark.parametrize("rule", ["scaled", "raw"])
def test_the_sequential_rule_decides_as_the_full_draw_for_fewer_images(rule):
    rng = np.random.default_rng(0)
    stop = stop_after(K, LEVEL)
    same, sequential_images, full_images, stopped_early, ratios = 0, 0, 0, 0, []
    trials = 150
    for _ in range(trials):
        values, table, areas = _direction(rng)
        full, full_n, _ = _run(values, table, areas, 0, rule)
        seq, seq_n, drawn = _run(values, table, areas, stop, rule)
        same += seq == full
        full_images += full_n
        sequential_images += seq_n
        if (drawn < K).any():  # no word passed its own test either way: the direction stopped early
            stopped_early += 1
            ratios.append(seq_n / full_n)
        else:
            assert seq_n == full_n
    assert same == trials  # every decision of every word, both rankings
    # with 7 words judged both ways, most directions hold a word at one end of its placements
    assert stopped_early >= 10 and sequential_images < full_images and np.mean(ratios) < 0.75, np.mean(ratios)


def test_a_stopped_word_gets_besag_and_cliffords_p_value():
    values = np.array([0.5, 0.5], dtype=np.float32)
    table = np.tile(np.array([0.4, 0.6], dtype=np.float32), (2, 10))[:, :K]  # alternating below and above
    _, images, drawn = _run(values, table, np.array([0.1, 0.1]), stop_after(K, LEVEL), "scaled")
    assert drawn.tolist() == [[4, 4]] and images == 8  # 2 above and 2 below after 4: nothing can be supported
    rows = [{"attribute": "w", "word": "w", "eligible": True, "s": 0.5, "control_s": [0.4, 0.6, 0.4, 0.6]}]
    summary = judge_rankings(rows, 1, LEVEL, placements=K)
    assert rows[0]["p_value"] == pytest.approx(2 / 4) and rows[0]["p_selection"] is None  # h / n
    assert rows[0]["placements_drawn"] == 4 and not rows[0]["supported"] and summary["sequential_stop"]


def test_a_direction_that_stops_early_is_explained_and_drawn(tmp_path):
    """A model that reads the block means of the face besides one region the words do not cover:
    erasing a square anywhere moves the score a little either way, and on this pair every word of
    direction b lands between its placements both ways, so each stops after a round or two; the
    explanation, its caption and its figure say so."""
    from torch import nn

    from s2w_toolkit.backbones.wrapped import wrap_module
    from s2w_toolkit.interfaces import Pair
    from s2w_toolkit.sim2word.core import Settings, run_sim2word
    from s2w_toolkit.sim2word.explainer import to_explanation
    from s2w_toolkit.sim2word.figure import render_sim2word

    from test_sim2word_support import REGION, SIZE, SQUARES, RegionOnly, Squares

    class Blocks(RegionOnly):
        def forward(self, x):
            y = self.conv(x)
            return torch.cat([y[:, :, REGION[0], REGION[1]].flatten(1), nn.functional.avg_pool2d(y, 8).flatten(1)], 1)

    net = wrap_module(Blocks(), input_size=(SIZE, SIZE), threshold=0.99, name="blocks")
    rng = np.random.default_rng(0)
    a, b = (rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(2))
    x = net.preprocess(np.stack([a, b]))
    elsewhere = Squares({k: v for k, v in SQUARES.items() if k != "Target"})
    # the Grad-CAM H_d and the target-only half masks this scenario was built on (the sequential rule,
    # not H_d or the masks, is the point)
    scenario = dict(stability=0, counterfactual="contrastive", erase="target", mask_fraction=0.5, dilate=0,
                    control_overlap=1.0)
    settings = Settings(**scenario)
    result = run_sim2word(net, Pair(a=x[:1], b=x[1:], image_a=a, image_b=b), elsewhere, settings)
    stopped = result.directions[1]
    assert stopped.summary["sequential_stop"] and not result.directions[0].summary.get("sequential_stop")
    for row in stopped.rows:  # each stopped in some round, the last one included
        n = row["placements_drawn"]
        assert n <= K and len(row["control_s"]) == n and row["p_selection"] is None and not row["supported"]
        assert row["p_value"] > LEVEL  # Besag and Clifford's h / L
    assert min(row["placements_drawn"] for row in stopped.rows) < K
    full = run_sim2word(net, Pair(a=x[:1], b=x[1:], image_a=a, image_b=b), elsewhere,
                        Settings(**{**scenario, "sequential": False}))
    assert result.forward_images < full.forward_images
    assert [[r["attribute"] for r in d.words()] for d in full.directions] == \
        [[r["attribute"] for r in d.words()] for d in result.directions]
    e = to_explanation(result)
    path = render_sim2word(e, a, b, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000 and str(path).endswith("s.png")
