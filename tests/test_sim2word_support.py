"""Every Sim2Word word against its own controls: the statistics by hand, a synthetic model whose
similarity depends on one region only, and the controls' determinism and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from s2w_toolkit.attributes import AttributePrediction
from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.interfaces import AttributeModel, Pair
from s2w_toolkit.sim2word.counterfactual import STEPS
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.sim2word.explainer import Sim2WordExplainer, to_explanation
from s2w_toolkit.sim2word.support import judge_direction, rank_p_value

SIZE = 64
REGION = (slice(24, 32), slice(28, 36))  # rows, columns: all the model reads
SQUARES = {"Target": (24, 28), "Left": (36, 18), "Right": (36, 40), "Top": (18, 40)}  # top-left corners, 8x8


def test_rank_p_values_and_support_by_hand():
    assert rank_p_value(0.9, [0.1] * 19, 1) == pytest.approx(0.05)
    assert rank_p_value(0.9, [0.1] * 18 + [0.9], 1) == pytest.approx(0.10)  # a tie counts against the word
    assert rank_p_value(0.1, [0.5, 0.6, 0.7], -1) == pytest.approx(0.25)  # a mate: lower is better
    assert rank_p_value(0.5, [], 1) == 1.0
    rows = [{"attribute": "A", "eligible": True, "s": 0.40, "control_s": [0.45, 0.50, 0.48, 0.46]},
            {"attribute": "B", "eligible": True, "s": 0.49, "control_s": [0.44, 0.41, 0.52, 0.43]},
            {"attribute": "C", "eligible": False, "s": 0.10, "control_s": []},
            {"attribute": "D", "eligible": True, "s": 0.45, "control_s": [0.50, 0.51, 0.52, 0.53]}]
    summary = judge_direction(rows, sign=-1, level=0.2)  # a mate: the word should lower s
    a, b, c, d = rows
    assert summary["selection"] == pytest.approx([0.44, 0.41, 0.48, 0.43])  # the lowest control per placement
    assert a["excess"] == pytest.approx(0.40 - 0.4725) and a["p_value"] == pytest.approx(0.2)
    assert a["p_selection"] == pytest.approx(0.2) and a["supported"]
    assert b["p_value"] == pytest.approx(0.8) and not b["supported"]
    assert "excess" not in c  # not eligible: never judged
    # D beats its own controls but not the best of the selection's: the arg-max bias, not support
    assert d["p_value"] == pytest.approx(0.2) and d["p_selection"] == pytest.approx(0.8) and not d["supported"]
    assert summary["top"] == "A" and summary["selection_win_rate"] == 1.0
    assert judge_direction(rows, sign=-1, level=0.19)["top"] is None  # 0.2 is the smallest p with 4 controls


class RegionOnly(nn.Module):
    """Embedding = the pixels of REGION, plus a constant part: nothing else in the face matters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3)[:, :, None, None])
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        region = self.conv(x)[:, :, REGION[0], REGION[1]].flatten(1)
        return torch.cat([region, torch.full((len(x), region.shape[1]), 0.5)], dim=1)


class Squares(AttributeModel):
    """Category attributes, each an 8x8 square (of SQUARES by default; "Target" is the model's region)."""

    name = "squares"

    def __init__(self, squares=SQUARES) -> None:
        self.squares = dict(squares)
        self.attributes = tuple(self.squares)

    def predict(self, images, template=None):
        n, a = len(images), len(self.squares)
        maps = np.zeros((n, a, SIZE, SIZE), np.float32)
        for j, (y, x) in enumerate(self.squares.values()):
            maps[:, j, y:y + 8, x:x + 8] = 1.0
        return AttributePrediction.build(self.attributes, [list(self.squares)] * n, np.ones((n, a)),
                                         np.ones((n, a), bool), maps, kinds=["category"] * a, model=self.name)


class Counting(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body, self.calls, self.images = body, 0, 0

    def forward(self, x):
        self.calls += 1
        self.images += len(x)
        return self.body(x)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    a = rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8)
    b = rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8)
    a[REGION] = 255  # T's region is bright, F's dark: erasing T's region with black makes them alike
    b[REGION] = 0
    counting = Counting(RegionOnly())
    net = wrap_module(counting, input_size=(SIZE, SIZE), threshold=0.99, name="region-only")
    x = net.preprocess(np.stack([a, b]))
    return net, counting, Pair(a=x[:1], b=x[1:], image_a=a, image_b=b)


# the attribute maps are exact squares: erase all of each (J_j = A_j = 1 > 0.6)
SETTINGS = Settings(ablation="no-counterfactual", placements=19, batch_size=32, mask_rule="absolute", stability=0,
                    erase="target")


def test_only_the_attribute_on_the_region_the_model_reads_is_supported(setup):
    net, _, pair = setup
    result = run_sim2word(net, pair, Squares(), SETTINGS)
    assert not result.mate
    a = {r["attribute"]: r for r in result.directions[0].rows}
    assert a["Target"]["delta"] > 0.05 and a["Target"]["supported"] and a["Target"]["p_value"] <= 0.1
    for name in ("Left", "Right", "Top"):  # the model does not read them: erasing them changes nothing
        assert a[name]["delta"] == pytest.approx(0.0, abs=1e-6) and not a[name]["supported"]
        assert a[name]["p_value"] == 1.0
    assert result.directions[0].summary["top"] == "Target"
    assert result.directions[0].summary["selection_win_rate"] == 1.0
    e = to_explanation(result)
    assert [w.details["attribute"] for w in e.words if w.details["side"] == "a"] == ["Target"]
    assert "target" in e.metadata["caption"] and "more than the same region placed at random" in e.metadata["caption"]
    # the official algorithm names a word whatever the controls say: every eligible one, ranked by s_j
    official = to_explanation(run_sim2word(net, pair, Squares(), Settings.official(ablation="no-counterfactual")))
    assert len(official.words) == 8 and official.metadata["support"] is None


def test_a_model_that_reads_nothing_the_attributes_cover_names_no_word(setup):
    net, _, pair = setup
    elsewhere = Squares({k: v for k, v in SQUARES.items() if k != "Target"})
    e = to_explanation(run_sim2word(net, pair, elsewhere, SETTINGS))
    assert [w for w in e.words if w.details["side"] == "a"] == []
    assert "no attribute explains this pair better than a region of the same size" in e.metadata["caption"]


def test_controls_are_deterministic_per_seed_and_go_through_the_network_in_batches(setup):
    net, counting, pair = setup
    counting.calls = counting.images = 0
    full = Settings(**{**SETTINGS.__dict__, "sequential": False})  # one stream of erasures, no rounds
    first = run_sim2word(net, pair, Squares(), full)
    calls, images = counting.calls, counting.images
    # 4 distinct masks per side, each erased once and at 19 placements (a placement that lands on
    # another mask's pixels, or on another placement, is scored once: 155 of the 160 with the
    # grown masks); plus one identity pass of the two faces and the integrated H_d's path, STEPS
    # points per direction, one per pass
    path = 2 * STEPS
    assert 2 * 4 * 20 - 8 <= first.forward_images <= 2 * 4 * 20 and images == first.forward_images + 2 + path
    erasures = 8  # the words' own erasures go first, then the controls, each in chunks of 32
    assert calls == 1 + path + int(np.ceil(erasures / 32)) + int(np.ceil((first.forward_images - erasures) / 32))
    again = run_sim2word(net, pair, Squares(), full)
    reseeded = run_sim2word(net, pair, Squares(), Settings(**{**full.__dict__, "seed": 1}))

    def controls(r):
        return [row["control_s"] for d in r.directions for row in d.rows]

    assert controls(again) == controls(first) and controls(reseeded) != controls(first)


def test_rank_by_excess_needs_controls_and_the_official_preset_exists():
    with pytest.raises(ValueError, match="rank_by=excess needs placements"):
        Settings(placements=0)
    official = dict(placements=0, rank_by="similarity", mask_rule="absolute", fill="black", counterfactual="official",
                    stability=0, erase="target", dilate=0)
    assert Settings.official() == Settings(**official)
    assert Sim2WordExplainer(**{k: str(v) for k, v in official.items()}).settings == Settings.official()


def test_perturbed_copies_are_batched_and_pool_into_one_test(setup):
    net, counting, pair = setup
    counting.calls = counting.images = 0
    settings = Settings(**{**SETTINGS.__dict__, "stability": 3})
    result = run_sim2word(net, pair, Squares(), settings)
    single = run_sim2word(net, pair, Squares(), SETTINGS).forward_images
    # the copies add their own erasures (4 words x 2 sides x 3 copies, fewer where repeated), not controls
    assert single < result.forward_images <= single + 3 * 8
    target = next(r for r in result.directions[0].rows if r["attribute"] == "Target")
    assert target["copies"] == 4 and target["agreement"] == 1.0 and target["supported"]
    assert result.directions[0].summary["copies"] == 4
    assert [r["attribute"] for r in result.directions[0].words()] == ["Target"]
    names = [p["name"] for p in result.extra["perturbations"]]
    assert names[0] == "jpeg90" and len(set(names)) == 3 and all(p["from"] == "aligned face"
                                                                  for p in result.extra["perturbations"])


def _runs(*runs):
    return [[{"attribute": name, "word": name, "eligible": True, "s": v, "control_s": c}
             for name, (v, c) in run.items()] for run in runs]


def test_the_pooled_test_by_hand():
    """The word's value is averaged over the photo and its copies (each copy's change put on the
    photo's unerased value) and ranked among the photo's placements: 2 of 5 reach 0.61."""
    photo, copy = _runs({"A": (0.60, [0.50, 0.52, 0.51, 0.70]), "B": (0.50, [0.50, 0.51, 0.52, 0.53])},
                        {"A": (0.62, []), "B": (0.49, [])})
    summary = judge_direction(photo, sign=1, level=0.4, copies=[copy])
    a, b = photo
    assert a["statistic"] == pytest.approx(0.61) and a["p_value"] == pytest.approx(0.4)  # 0.70 >= 0.61
    assert a["excess"] == pytest.approx(0.60 - 0.5575) and a["pooled_excess"] == pytest.approx(0.61 - 0.5575)
    assert summary["selection_statistic"] == pytest.approx([0.50, 0.52, 0.52, 0.70])
    shifted = [dict(r, s=r["s"] + 0.3, delta=r["s"] - 0.2) for r in copy]  # a copy 0.3 more alike unerased
    for r in photo:
        r["delta"] = r["s"] - 0.2
    judge_direction(photo, sign=1, level=0.4, copies=[shifted])
    assert photo[0]["statistic"] == pytest.approx(0.61)  # its change counts, not its level
    assert a["p_selection"] == pytest.approx(0.4) and a["supported"] and not b["supported"]
    assert (a["copies"], a["agreement"], b["agreement"]) == (2, 1.0, 0.0) and summary["top"] == "A"
    # a word missing from a copy is judged on the runs that have it
    lone, = _runs({"A": (0.62, [0.51, 0.50, 0.53, 0.55])})
    alone = judge_direction([dict(r) for r in photo], sign=1, level=0.4, copies=[lone])
    assert alone["top"] == "A"
    only_b = [dict(r) for r in photo]
    judge_direction(only_b, sign=1, level=0.4, copies=[[r for r in copy if r["attribute"] == "B"]])
    assert only_b[0]["copies"] == 1 and only_b[0]["statistic"] == pytest.approx(0.60)


def test_validity_is_judged_on_the_named_word(setup):
    net, _, pair = setup
    e = to_explanation(run_sim2word(net, pair, Squares(), SETTINGS))
    a = e.metadata["directions"][0]
    assert a["named"] == "Target" and a["selection_win_rate"] == 1.0 and a["beats_selection"] is True
    assert e.metadata["named"] == sum(d["named"] is not None for d in e.metadata["directions"])
    assert e.metadata["validity"] == sum(bool(d["beats_selection"]) for d in e.metadata["directions"]) / 2


def test_a_nan_or_an_empty_mask_is_never_supported_and_spoils_no_other_word():
    rows = [{"attribute": "Nan", "eligible": True, "s": float("nan"), "control_s": [0.5] * 19},
            {"attribute": "Weak", "eligible": True, "s": 0.50, "control_s": [0.45, 0.55] * 9 + [0.5]},
            {"attribute": "Strong", "eligible": True, "s": 0.90, "control_s": [0.45, 0.55] * 9 + [0.5]},
            {"attribute": "Empty", "eligible": True, "s": 0.50, "erased_fraction": 0.0, "control_s": [0.5] * 19}]
    for rule in ("raw", "max-t", "scaled"):
        judged = [dict(r) for r in rows]
        judge_direction(judged, sign=1, level=0.1, selection_rule=rule)
        nan, weak, strong, empty = judged
        assert "p_value" not in nan and not weak["supported"], rule  # a NaN has no rank: not judged
        assert strong["supported"] and strong["p_selection"] == pytest.approx(0.05), rule
        assert "p_value" not in empty  # it erased nothing on the photo: not judged
