"""Random-placement controls of Sim2Word's erasures, and the AUC drop beside its control."""

import numpy as np
import pytest
import torch

from s2w_toolkit import load_pair
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.auc_drop import (
    auc_drop,
    auc_drop_control,
    record_from_explanation,
)
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.fills import fill_images
from s2w_toolkit.sim2word.explainer import Sim2WordExplainer
from s2w_toolkit.sim2word.placements import (
    face_region,
    placement_masks,
    random_placements,
    region_pixels,
)
from s2w_toolkit.sim2word.rescore import score_masks

K = 8  # placements; the masks are the official absolute-threshold ones, so the cases below stay fixed


@pytest.fixture(scope="module")
def pair(net, demo):
    return load_pair(demo["obama"], demo["biden"], net)


@pytest.fixture(scope="module")
def attributes():
    return load_attributes("age-gender")


@pytest.fixture(scope="module")
def result(net, pair, attributes):
    return run_sim2word(net, pair, attributes, Settings(placements=K, mask_rule="absolute", fill="black", counterfactual="official", stability=0,
                                                       erase="target", dilate=0, control_overlap=1.0))


@pytest.fixture(scope="module")
def official(net, pair, attributes):
    return run_sim2word(net, pair, attributes, Settings.official())


@pytest.fixture(scope="module")
def masks(result):
    return torch.stack([d.masks for d in result.directions])


def _crop(mask):
    ys, xs = mask.nonzero(as_tuple=True)
    return mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1], (int(ys.min()), int(ys.max()), int(xs.min()),
                                                               int(xs.max()))


def test_a_placement_is_the_same_pixels_moved_inside_the_face_box(net, masks):
    box = net.template.face_box()
    x0, y0, x1, y1 = region_pixels(box, (150, 150))
    assert (x0, y0, x1, y1) == (25, 25, 125, 125)
    mask = masks[1, 1]  # Age on face b: a real, irregular mask
    assert 100 < int(mask.sum()) < 100 * 100
    shape, _ = _crop(mask)
    moved = random_placements(mask, box, K, np.random.default_rng(3))
    assert moved.shape == (K, 150, 150) and moved.dtype == torch.bool
    for m in moved:
        assert int(m.sum()) == int(mask.sum())
        crop, (top, bottom, left, right) = _crop(m)
        assert torch.equal(crop, shape)  # exactly the same pixels, translated: no wrap-around
        assert y0 <= top and bottom < y1 and x0 <= left and right < x1
    assert len({m.numpy().tobytes() for m in moved}) == K  # all different
    again = random_placements(mask, box, K, np.random.default_rng(3))
    other = random_placements(mask, box, K, np.random.default_rng(4))
    assert torch.equal(again, moved) and not torch.equal(other, moved)


def test_a_mask_larger_than_the_region_covers_it_and_stays_in_the_image():
    mask = torch.zeros(20, 20, dtype=torch.bool)
    mask[2:18, 3:6] = True  # 16 rows tall, the region only 10
    mask[10, 6] = True
    moved = random_placements(mask, (5, 5, 15, 15), 5, np.random.default_rng(0))  # 5 of 5 row starts x 8 columns
    shape, _ = _crop(mask)
    tops = set()
    for m in moved:
        crop, (top, bottom, left, right) = _crop(m)
        assert torch.equal(crop, shape) and int(m.sum()) == 49
        assert top <= 5 and bottom >= 14 and 0 <= top and bottom <= 19  # covers the region's rows, in the image
        assert 5 <= left and right <= 14
        tops.add(top)
    assert tops <= {0, 1, 2, 3, 4}
    empty = random_placements(torch.zeros(20, 20, dtype=torch.bool), (5, 5, 15, 15), 4, np.random.default_rng(0))
    assert empty.shape == (4, 20, 20) and not empty.any()
    with pytest.raises(ValueError, match="holds no pixel"):
        random_placements(mask, (30, 30, 40, 40), 2, np.random.default_rng(0))


def test_control_scores_are_the_cosines_of_the_placed_erasures(net, pair, result, masks):
    """Recomputed the plain way: the same placements, erased in uint8 pixels, preprocessed, embedded."""
    placed = placement_masks(masks, face_region(net.template, (150, 150)), K, seed=0)
    for i, (d, face, other) in enumerate(zip(result.directions, (pair.image_a, pair.image_b), (pair.b, pair.a))):
        for j, row in enumerate(d.rows):
            assert len(row["control_s"]) == K and all(isinstance(v, float) for v in row["control_s"])
            for k in (0, K - 1):
                erased = face.copy()
                erased[placed[i, j, k].numpy()] = 0
                with torch.no_grad():
                    expected = net.similarity(net.preprocess(erased), other).item()
                assert row["control_s"][k] == pytest.approx(expected, abs=1e-5), (d.target, row["attribute"], k)
    age = result.directions[1].rows[1]  # a non-empty mask: every placement changes the score, differently
    assert all(abs(s - result.similarity) > 1e-4 for s in age["control_s"])
    assert len({round(s, 6) for s in age["control_s"]}) == K
    gender = result.directions[0].rows[0]  # an empty mask: nothing to place, the similarity K times
    assert gender["erased_fraction"] == 0 and gender["control_s"] == [pytest.approx(result.similarity)] * K


def test_zero_placements_is_the_official_algorithm(net, pair, result, official, masks):
    x = torch.cat([pair.a, pair.b])
    units = torch.nn.functional.normalize(net(x), dim=1).detach()
    fills = net.preprocess(fill_images(np.stack([pair.image_a, pair.image_b]))).to(x.device)
    plain = score_masks(net, x, fills, masks, units[[1, 0]], torch.full((2,), official.similarity))
    assert [r["s"] for d in official.directions for r in d.rows] == plain.cosine.flatten().tolist()  # exactly
    assert all(r["control_s"] == [] for d in official.directions for r in d.rows)
    distinct = sum(len({m.numpy().tobytes() for m in side if m.any()}) for side in masks)
    assert official.forward_images == plain.forwarded == distinct
    assert result.forward_images == distinct * (1 + K)  # every placement of every distinct mask, once
    np.testing.assert_allclose([r["s"] for d in result.directions for r in d.rows],
                               [r["s"] for d in official.directions for r in d.rows], atol=1e-5)


def test_placements_are_seeded_and_batch_size_free(net, pair, attributes, result):
    def controls(r):
        return [r_["control_s"] for d in r.directions for r_ in d.rows]

    small = run_sim2word(net, pair, attributes, Settings(placements=K, batch_size=7, mask_rule="absolute", fill="black",
                                                        counterfactual="official", stability=0, erase="target", dilate=0,
                                                        control_overlap=1.0))
    np.testing.assert_allclose(controls(small), controls(result), atol=1e-5)
    reseeded = run_sim2word(net, pair, attributes, Settings(placements=K, seed=1, mask_rule="absolute", fill="black", counterfactual="official", stability=0))
    assert controls(reseeded) != controls(result)
    three = run_sim2word(net, pair, attributes, Settings(placements=3, mask_rule="absolute", fill="black", counterfactual="official", stability=0))
    assert all(len(c) == 3 for c in controls(three))


def test_the_explanation_carries_the_controls_and_the_record(net, pair, attributes):
    e = Sim2WordExplainer(attributes="age-gender", placements=3).explain(pair, net, attributes)
    assert e.metadata["settings"]["placements"] == 3
    record = record_from_explanation(e)
    for direction in e.metadata["directions"]:
        eligible = [r for r in direction["attributes"] if r["eligible"]]
        side = direction["target"]
        assert record["control_best"][side] == [max(r["control_s"][k] for r in eligible) for k in range(3)]
        assert record["best_erased"][side] == max(r["s"] for r in eligible)


RECORDS = [
    {"same": True, "similarity": 0.9, "best_erased": {"a": 0.2, "b": 0.3},
     "control_best": {"a": [0.99, 0.99, 0.99], "b": [0.1, 0.1, 0.1]}},  # a mate keeps its similarity
    {"same": False, "similarity": 0.5, "best_erased": {"a": 0.95, "b": 0.4},
     "control_best": {"a": [0.6, 0.95, 0.55], "b": [0.3, 0.3, 0.3]}},
    {"same": False, "similarity": 0.7, "best_erased": {"a": None, "b": 0.92},
     "control_best": {"a": None, "b": [0.92, 0.5, 0.8]}},
]


def test_the_control_drop_by_hand():
    # original: mate 0.9 above both non-mates, AUC 1. After, non-mate directions:
    # real       [0.95, 0.5, 0.7, 0.92]: the mate beats 2 of 4 -> AUC 0.5, drop 0.5
    # placement 0 [0.6, 0.5, 0.7, 0.92]: 3 of 4 -> drop 0.25
    # placement 1 [0.95, 0.5, 0.7, 0.7]: 3 of 4 -> drop 0.25
    # placement 2 [0.55, 0.5, 0.7, 0.8]: 4 of 4 -> drop 0
    out = auc_drop_control(RECORDS)
    assert out["placements"] == 3
    assert out["drops"] == pytest.approx([0.25, 0.25, 0.0]) and out["auc_after"] == pytest.approx([0.75, 0.75, 1.0])
    assert out["drop"] == pytest.approx(0.5) == auc_drop(RECORDS)["drop"]
    assert (out["mean"], out["min"], out["max"]) == pytest.approx((1 / 6, 0.0, 0.25))
    assert (out["low"], out["high"]) == pytest.approx((0.0125, 0.25))  # quantiles of [0, .25, .25]
    assert out["difference"] == pytest.approx(0.5 - 1 / 6)


def test_controls_equal_to_the_real_erasure_give_no_difference():
    same = [{**r, "control_best": {d: None if v is None else [v] * 4 for d, v in r["best_erased"].items()}}
            for r in RECORDS]
    out = auc_drop_control(same)
    assert out["drops"] == [out["drop"]] * 4 and out["difference"] == 0.0 and out["low"] == out["high"] == 0.5
    none = auc_drop_control([{k: v for k, v in r.items() if k != "control_best"} for r in RECORDS])
    assert none["placements"] == 0 and none["mean"] is None and none["drop"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="different lengths"):
        auc_drop_control([RECORDS[1], {**RECORDS[2], "control_best": {"a": None, "b": [0.1]}}])


def test_matched_placements_cut_the_moved_region_as_the_word_was_cut():
    """Each control: the attribute's region moved as a whole inside the box, and there the half of
    it where H_d times the moved map is highest: as large as the word's mask, in the box, the
    best pixels of its region by H_d; a repeated mask shares its draws."""
    from s2w_toolkit.sim2word.erase import region_masks
    from s2w_toolkit.sim2word.placements import matched_placements, shifted

    h_d = torch.rand(1, 40, 40, generator=torch.Generator().manual_seed(0))
    maps = torch.zeros(1, 3, 40, 40)
    maps[0, 0, 10:16, 12:20] = 1.0  # a 6x8 region
    maps[0, 1, 10:16, 12:20] = 1.0  # the same map: the same mask
    maps[0, 2, 25:30, 5:9] = 1.0
    masks = region_masks(h_d[:, None] * maps, maps, 0.5)
    box = (4, 4, 36, 36)
    placed = matched_placements(masks, h_d, maps, box, 6, 0.5)
    assert placed.shape == (1, 3, 6, 40, 40)
    assert placed[0, 0].sum(dim=(1, 2)).tolist() == [24] * 6 and placed[0, 2].sum(dim=(1, 2)).tolist() == [10] * 6
    assert torch.equal(placed[0, 0], placed[0, 1])
    inside = torch.zeros(40, 40, dtype=torch.bool)
    inside[4:36, 4:36] = True
    assert not (placed & ~inside).any()
    cuts = {}  # every move that keeps the 6x8 region in the box, and the best half of the moved region there
    for dy in range(4 - 10, 36 - 16 + 1):
        for dx in range(4 - 12, 36 - 20 + 1):
            moved = shifted(maps[0, 0], dy, dx)
            cut = region_masks((h_d[0] * moved)[None, None], moved[None, None], 0.5)[0, 0]
            cuts[cut.numpy().tobytes()] = (dy, dx)
            region = moved > 0
            assert float(h_d[0][cut].min()) >= float(h_d[0][region & ~cut].max())  # the best half, in the region
    assert all(control.numpy().tobytes() in cuts for control in placed[0, 0])
    assert len({tuple(c.nonzero()[0].tolist()) for c in placed[0, 0]}) > 1  # the placements differ


def test_controls_keep_away_from_the_words_own_region():
    """``overlap``: every placement covers at most that share of the mask's own pixels (the
    share recomputed pixel by pixel), placements still differ and stay in the box; with 1 the
    draws are the unrestricted ones."""
    mask = torch.zeros(40, 40, dtype=torch.bool)
    mask[14:20, 10:30] = True  # a wide region, like both eyes
    box = (4, 4, 36, 36)
    for overlap in (0.0, 0.25, 0.5):
        moved = random_placements(mask, box, 12, np.random.default_rng(1), overlap)
        shares = (moved & mask).sum(dim=(1, 2)).float() / mask.sum()
        assert float(shares.max()) <= overlap + 1e-9, (overlap, shares.tolist())
        assert len({m.numpy().tobytes() for m in moved}) == 12 and int(moved[:, :4].sum()) == 0
    free = random_placements(mask, box, 12, np.random.default_rng(1))
    assert torch.equal(free, random_placements(mask, box, 12, np.random.default_rng(1), 1.0))
    near = (free & mask).sum(dim=(1, 2)).float() / mask.sum()
    assert float(near.max()) > 0.5  # unrestricted, some placements fall back onto the region


def test_the_default_masks_grow_with_the_face_and_the_official_ones_do_not(net, pair, attributes):
    """The defaults erase each attribute's whole region grown by 4% of the face width (6 px on
    150 px), on both faces, with controls kept at most half onto the word's own region."""
    from s2w_toolkit.sim2word.erase import grow, region_masks

    s = Settings()
    assert (s.dilation(150), s.dilation(112), Settings.official().dilation(150)) == (6, 4, 0)
    assert s.mask_fraction == 1.0 and s.erases_both and s.control_overlap == 0.5
    result = run_sim2word(net, pair, attributes, Settings(stability=0, placements=2, sequential=False))
    maps = torch.as_tensor(attributes.predict(np.stack([pair.image_a, pair.image_b]), net.template).maps)
    expected = grow(region_masks(torch.ones_like(maps), maps, 1.0), 6)
    for i, d in enumerate(result.directions):
        eligible = [j for j, r in enumerate(d.rows) if r["eligible"]]
        assert torch.equal(d.masks[eligible], expected[i, eligible])
