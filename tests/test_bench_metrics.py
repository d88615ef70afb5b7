"""s2w_toolkit.bench.metrics: curve end points on the demo pair, a model where only one quadrant
matters, batch-size invariance, and the pair statistics against hand and brute-force answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from s2w_toolkit import load_pair
from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.bench.auc_drop import auc_drop
from s2w_toolkit.bench.metrics import deletion_insertion, fmr_fnmr, pixel_replacement, tpr_at_fpr, verification_auc
from s2w_toolkit.sim2word.core import angular


@pytest.fixture(scope="module")
def demo_pair(net, demo):
    pair = load_pair(demo["obama"], demo["biden"], net)
    with torch.no_grad():
        counter = net.embed(pair.b)
        original = float((net.embed(pair.a) * counter).sum())
    h, w = pair.image_a.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    saliency = np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (2 * (h / 5) ** 2))
    saliency += 0.01 * np.random.default_rng(1).random((h, w))
    return pair, counter, original, saliency


def cosine_of(net, face: np.ndarray, counter: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net.embed(net.preprocess(face)) * counter).sum())


def test_deletion_insertion_end_points_on_demo_pair(net, demo_pair):
    pair, counter, original, saliency = demo_pair
    out = deletion_insertion(net, pair.a, pair.image_a, counter, saliency, steps=4, fill="black")
    black = cosine_of(net, np.zeros_like(pair.image_a), counter)
    assert out["forward_passes"] == 4 * (4 + 1)
    assert len(out["deletion_curve"]) == len(out["insertion_curve"]) == 5
    assert out["deletion_curve"][0] == pytest.approx(original, abs=1e-5)
    assert out["deletion_curve"][-1] == pytest.approx(black, abs=1e-5)
    assert out["insertion_curve"][0] == pytest.approx(black, abs=1e-5)
    assert out["insertion_curve"][-1] == pytest.approx(original, abs=1e-5)
    c = np.array(out["deletion_curve"])
    assert out["deletion_auc"] == pytest.approx((c[0] / 2 + c[1:-1].sum() + c[-1] / 2) / 4, abs=1e-9)
    assert all(isinstance(v, float) for v in out["deletion_curve"] + out["insertion_curve"])


def test_batch_size_and_fill_on_demo_pair(net, demo_pair):
    pair, counter, original, saliency = demo_pair
    big = deletion_insertion(net, pair.a, pair.image_a, counter, saliency, steps=3, fill="mean")
    small = deletion_insertion(net, pair.a, pair.image_a, counter, saliency, steps=3, fill="mean", batch_size=5)
    for key in ("deletion_curve", "insertion_curve"):
        assert np.allclose(big[key], small[key], atol=1e-5)
    for key in ("deletion_auc", "insertion_auc", "scattered_deletion_auc", "scattered_insertion_auc"):
        assert big[key] == pytest.approx(small[key], abs=1e-5)
    mean_face = np.broadcast_to(np.rint(pair.image_a.reshape(-1, 3).mean(0)), pair.image_a.shape).astype(np.uint8)
    assert big["deletion_curve"][-1] == pytest.approx(cosine_of(net, mean_face, counter), abs=1e-5)


class Quadrant(nn.Module):
    """Embedding = the top-left 8x8 quadrant's preprocessed pixels: nothing else matters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :8, :8].flatten(1)


@pytest.fixture(scope="module")
def quadrant():
    net = wrap_module(Quadrant(), input_size=(16, 16))
    rng = np.random.default_rng(0)
    faces = rng.integers(128, 256, (2, 16, 16, 3), dtype=np.uint8)  # positive after preprocessing
    x = net.preprocess(faces)
    counter = net.embed(x[1:])
    truth = np.zeros((16, 16))
    truth[:8, :8] = 1.0
    return net, faces, x, counter, truth


def test_true_importance_order_beats_the_scattered_order(quadrant):
    net, faces, x, counter, truth = quadrant
    out = deletion_insertion(net, x[:1], faces[0], counter, truth, steps=8, fill="black")
    assert out["deletion_auc"] < out["scattered_deletion_auc"] - 0.05
    assert out["insertion_auc"] > out["scattered_insertion_auc"] + 0.05
    # the whole quadrant is gone after 2 of 8 steps (25 %): flat from there on
    assert np.allclose(out["deletion_curve"][2:], out["deletion_curve"][-1], atol=1e-6)
    assert np.allclose(out["insertion_curve"][2:], out["insertion_curve"][-1], atol=1e-6)
    # a reversed map is the worst order
    worst = deletion_insertion(net, x[:1], faces[0], counter, 1 - truth, steps=8, fill="black")
    assert worst["deletion_auc"] > out["scattered_deletion_auc"]
    # same seed, same numbers; saliency at another resolution is resized
    assert deletion_insertion(net, x[:1], faces[0], counter, truth, steps=8, fill="black") == out
    coarse = deletion_insertion(net, x[:1], faces[0], counter, truth[::4, ::4], steps=8, fill="black")
    assert coarse["deletion_auc"] < coarse["scattered_deletion_auc"]


def test_pixel_replacement_quadrant(quadrant):
    net, faces, x, counter, truth = quadrant
    out = pixel_replacement(net, x[:1], faces[0], x[1:], faces[1], counter, truth, percents=(25, 75))
    original = float((net.embed(x[:1]) * counter).sum())
    assert out["original"] == pytest.approx(original, abs=1e-6)
    assert out["best"][25] == pytest.approx(1.0, abs=1e-6)  # the quadrant now is the other face's
    assert out["worst"][75] == pytest.approx(original, abs=1e-6)  # nothing that matters changed
    assert original < out["random"][25] < 1.0
    assert out["forward_passes"] == 1 + 2 * 3
    only_random = pixel_replacement(net, x[:1], faces[0], x[1:], faces[1], counter, truth, percents=(25,),
                                    strategies=("random",))
    assert set(only_random) == {"original", "random", "forward_passes"}
    assert only_random["random"][25] == pytest.approx(out["random"][25], abs=1e-6)
    with pytest.raises(ValueError):
        pixel_replacement(net, x[:1], faces[0], x[1:], faces[1], counter, truth, source="paint")


def test_pixel_replacement_on_demo_pair(net, demo_pair):
    pair, counter, original, saliency = demo_pair
    full = pixel_replacement(net, pair.a, pair.image_a, pair.b, pair.image_b, counter, saliency,
                             percents=(0, 100))
    assert full["forward_passes"] == 1 + 2 * 3
    for key in ("best", "worst", "random"):
        assert full[key][100] == pytest.approx(1.0, abs=1e-5)  # every pixel from the other face
        assert full[key][0] == pytest.approx(original, abs=1e-5)
    black = pixel_replacement(net, pair.a, pair.image_a, pair.b, pair.image_b, counter, saliency,
                              percents=(100,), strategies=("best_worst",), source="black", batch_size=1)
    assert black["best"][100] == pytest.approx(cosine_of(net, np.zeros_like(pair.image_a), counter), abs=1e-5)
    default = pixel_replacement(net, pair.a, pair.image_a, pair.b, pair.image_b, counter, saliency)
    assert default["forward_passes"] == 1 + 5 * 3 and sorted(default["best"]) == [1, 5, 10, 25, 50]
    small = pixel_replacement(net, pair.a, pair.image_a, pair.b, pair.image_b, counter, saliency, batch_size=4)
    for key in ("best", "worst", "random"):
        assert np.allclose(list(default[key].values()), list(small[key].values()), atol=1e-5)


def test_fmr_fnmr_by_hand():
    scores, same = [0.9, 0.4, 0.6, 0.5, 0.2], [True, True, False, False, False]
    fmr, fnmr = fmr_fnmr(scores, same, 0.5)
    assert fmr == pytest.approx(2 / 3) and fnmr == pytest.approx(1 / 2)  # 0.5 itself is accepted
    assert fmr_fnmr(scores, same, 0.95) == (0.0, 1.0)
    assert fmr_fnmr(scores, same, -1.0) == (1.0, 0.0)
    assert np.isnan(fmr_fnmr([0.3], [True], 0.5)[0])


def test_verification_auc_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        scores = np.round(rng.random(40), 1)  # many ties
        same = rng.random(40) < 0.4
        pos, neg = scores[same], scores[~same]
        wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
        assert verification_auc(scores.tolist(), same.tolist()) == pytest.approx(wins / (len(pos) * len(neg)))
    assert verification_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert verification_auc([0.5, 0.5], [True, False]) == 0.5
    assert np.isnan(verification_auc([0.5, 0.6], [True, True]))


def test_tpr_at_fpr_by_hand_and_brute_force():
    neg = [0.85, 0.5, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4]
    pos = [0.9, 0.8, 0.6, 0.4]
    got = tpr_at_fpr(pos + neg, [True] * 4 + [False] * 10, fprs=(0.01, 0.1, 0.2, 0.3, 1.0))
    assert got == {0.01: 0.25, 0.1: 0.75, 0.2: 1.0, 0.3: 1.0, 1.0: 1.0}
    assert tpr_at_fpr([0.9, 0.85, 0.85, 0.1], [True, True, False, False], fprs=(0.0, 0.5)) == {0.0: 0.5, 0.5: 1.0}
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(30), 1)
    same = rng.random(30) < 0.5
    for f in (0.05, 0.1, 0.25, 0.5):
        best = 0.0
        for t in np.unique(scores):
            if (scores[~same] >= t).mean() <= f + 1e-12:
                best = max(best, (scores[same] >= t).mean())
        assert tpr_at_fpr(scores, same, fprs=(f,))[f] == pytest.approx(best)


def test_angular_by_hand_for_floats_and_arrays():
    import math

    for c in (-1.5, -1.0, -0.3, 0.0, 0.5, 1.0, 1.2):
        assert angular(c) == pytest.approx(1.0 - math.acos(max(-1.0, min(1.0, c))) / math.pi, abs=1e-12)
        assert isinstance(angular(c), float)
    assert np.allclose(angular([0.0, 1.0, -2.0]), [0.5, 1.0, 0.0])


def test_auc_drop_by_hand():
    records = [
        {"same": True, "similarity": 0.8, "best_erased": {"a": 0.95, "b": None},
         "per_attribute": {"a": {"hat": 0.95}, "b": {}}},
        {"same": True, "similarity": 0.7, "best_erased": {"a": None, "b": None}, "per_attribute": {}},
        {"same": False, "similarity": 0.2, "best_erased": {"a": 0.85, "b": 0.1},
         "per_attribute": {"a": {"hat": 0.85, "beard": 0.3}, "b": {"hat": 0.1}}},
        {"same": False, "similarity": 0.5, "best_erased": {"a": None, "b": 0.6},
         "per_attribute": {"a": {}, "b": {"beard": 0.6}}},
    ]
    out = auc_drop(records)
    # original: mates 0.8, 0.7 above non-mates 0.2, 0.5. After, per direction: mates 0.8, 0.8, 0.7, 0.7;
    # non-mates 0.85 (erased), 0.2 (0.1 < 0.2 keeps the similarity), 0.5 (none), 0.6 -> 12 of 16 wins
    assert out["auc_original"] == 1.0
    assert out["auc_after"] == pytest.approx(0.75) and out["drop"] == pytest.approx(0.25)
    # hat: non-mates 0.85, 0.2, 0.5, 0.5 -> 0.75; beard: 0.3, 0.2, 0.5, 0.6 -> all below the mates
    assert out["per_attribute"] == {"beard": {"auc_after": 1.0, "drop": 0.0},
                                    "hat": {"auc_after": pytest.approx(0.75), "drop": pytest.approx(0.25)}}
    # TPR at FPR 0.1: original has 2 non-mates (none may pass; top 0.5 < both mates) -> 1;
    # after has 4 (none may pass; top 0.85 is above every mate) -> 0
    assert out["tpr_original"][0.1] == 1.0 and out["tpr_after"][0.1] == 0.0
