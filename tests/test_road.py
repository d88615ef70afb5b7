"""ROAD noisy linear imputation: the linear system, the border weights, the noise, the edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2w_toolkit.road import _dissection, road_impute


def reference(face: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The definition, written out pixel by pixel and solved densely: each removed pixel is the
    weighted mean (1/6 direct, 1/12 diagonal, in-image neighbours only) of its neighbours."""
    h, w = mask.shape
    unknown = {p: k for k, p in enumerate(zip(*np.nonzero(mask)))}
    a, b = np.zeros((len(unknown), len(unknown))), np.zeros((len(unknown), 3))
    for (y, x), k in unknown.items():
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy, xx = y + dy, x + dx
                if (dy or dx) and 0 <= yy < h and 0 <= xx < w:
                    weight = 1 / 12 if dy and dx else 1 / 6
                    a[k, k] += weight
                    if mask[yy, xx]:
                        a[k, unknown[yy, xx]] -= weight
                    else:
                        b[k] += weight * face[yy, xx]
    out = face.astype(np.float64).copy()
    out[mask] = np.linalg.solve(a, b)
    return out


def ramp(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return np.stack([3 * x + 2 * y + 5, x + 4 * y + 20, 2 * x + y + 60], axis=-1).astype(np.uint8)


def test_a_linear_ramp_is_filled_back_and_the_rest_is_untouched():
    face = ramp(32, 28)  # at most 3*27 + 2*31 + 5 = 148 etc.: fits in uint8, different per channel
    mask = np.zeros((1, 32, 28), bool)
    mask[0, 6:20, 9:25] = True
    out = road_impute(face, mask, noise=0)
    assert np.abs(out[0][mask[0]] - face[mask[0]]).max() < 1e-3
    assert (out[0][~mask[0]] == face[~mask[0]]).all()  # bit-identical
    flat = face.astype(np.float32) + np.float32(0.37)  # float input, not representable in uint8
    out = road_impute(flat, mask, noise=0)
    assert np.abs(out[0] - flat).max() < 1e-3
    assert (out[0][~mask[0]] == flat[~mask[0]]).all()


def test_weights_and_their_renormalisation_on_the_border():
    face = np.random.default_rng(3).integers(0, 256, (5, 6, 3)).astype(np.float64)
    masks = np.zeros((3, 5, 6), bool)
    masks[0, 2, 3] = masks[1, 0, 0] = masks[2, 0, 3] = True
    out = road_impute(face, masks, noise=0)
    f = face
    inside = (f[1, 3] + f[3, 3] + f[2, 2] + f[2, 4]) / 6 + (f[1, 2] + f[1, 4] + f[3, 2] + f[3, 4]) / 12
    corner = ((f[0, 1] + f[1, 0]) / 6 + f[1, 1] / 12) / (2 / 6 + 1 / 12)
    edge = ((f[0, 2] + f[0, 4] + f[1, 3]) / 6 + (f[1, 2] + f[1, 4]) / 12) / (3 / 6 + 2 / 12)
    np.testing.assert_allclose(out[0, 2, 3], inside, atol=1e-4)
    np.testing.assert_allclose(out[1, 0, 0], corner, atol=1e-4)
    np.testing.assert_allclose(out[2, 0, 3], edge, atol=1e-4)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_coupled_removed_pixels_are_solved_together_as_the_definition_says(fraction):
    rng = np.random.default_rng(int(fraction * 10))
    face = rng.integers(0, 256, (9, 7, 3)).astype(np.uint8)
    mask = rng.random((9, 7)) < fraction  # scattered, touching the border, in clusters at 0.9
    mask[0, :] = True  # a whole removed image row on the border
    out = road_impute(face, mask[None], noise=0)
    np.testing.assert_allclose(out[0], reference(face, mask), atol=1e-4)


def test_a_large_blob_touching_the_border_matches_the_definition():
    rng = np.random.default_rng(7)
    face = rng.integers(0, 256, (24, 20, 3)).astype(np.uint8)
    y, x = np.mgrid[:24, :20]
    mask = (y - 4) ** 2 + (x - 15) ** 2 < 60  # cut by the top and right borders
    out = road_impute(face, mask[None], noise=0)
    np.testing.assert_allclose(out[0], reference(face, mask), atol=1e-4)
    assert np.isfinite(out).all()


def test_nothing_removed_and_everything_removed():
    face = ramp(12, 10)
    masks = np.zeros((2, 12, 10), bool)
    masks[1] = True
    out = road_impute(face, masks, noise=0)
    assert (out[0] == face).all()
    assert (out[1] == 127.5).all()  # nothing known: mid-grey
    noisy = road_impute(face, masks, noise=0.01)
    assert (noisy[0] == face).all()  # nothing removed, nothing noised
    assert np.isfinite(noisy).all() and abs(float(noisy[1].mean()) - 127.5) < 0.5
    assert 2.2 < float(noisy[1].std()) < 2.9


def test_noise_is_seeded_only_on_removed_pixels_and_of_the_requested_size():
    face = np.full((60, 50, 3), 128, np.uint8)
    masks = np.zeros((2, 60, 50), bool)
    masks[0, 5:55, 5:45] = True  # 2000 pixels, 6000 noisy values
    masks[1, 10:60, 0:30] = True  # overlaps the first
    clean = road_impute(face, masks, noise=0)
    a = road_impute(face, masks, noise=0.02, seed=4)
    assert (a == road_impute(face, masks, noise=0.02, seed=4)).all()  # reproducible
    b = road_impute(face, masks, noise=0.02, seed=5)
    assert (a[masks] != b[masks]).mean() > 0.99  # another seed, other noise
    assert (a[~masks] == clean[~masks]).all() and (a[~masks] == 128).all()  # only removed pixels
    added = (a - clean)[masks]
    assert abs(float(added.std()) / (0.02 * 255) - 1) < 0.05  # 5.1 grey levels
    assert abs(float(added.mean())) < 0.3
    both = masks[0] & masks[1]
    assert (a[0][both] != a[1][both]).mean() > 0.99  # two masks, different noise
    shifted = np.zeros((2, 60, 50), bool)
    shifted[0, :20, :20] = shifted[1, 30:50, 20:40] = True  # same size: not the same draws either
    noise = road_impute(face, shifted, noise=0.02, seed=4) - 128
    assert (noise[0][shifted[0]] != noise[1][shifted[1]]).mean() > 0.99


def test_noise_is_clipped_to_the_pixel_range():
    face = np.full((20, 20, 3), 255, np.uint8)
    mask = np.zeros((1, 20, 20), bool)
    mask[0, 5:15, 5:15] = True
    out = road_impute(face, mask, noise=0.05)
    assert out.max() == 255 and out[0][mask[0]].min() < 250  # noisy below, clipped above


def test_batched_equals_one_by_one_with_torch_or_numpy_masks():
    rng = np.random.default_rng(11)
    face = rng.integers(0, 256, (40, 36, 3)).astype(np.uint8)
    masks = rng.random((5, 40, 36)) < np.array([0.0, 0.05, 0.4, 0.8, 1.0])[:, None, None]
    batched = road_impute(face, masks, noise=0.01, seed=2)
    assert batched.shape == (5, 40, 36, 3) and batched.dtype == np.float32
    for i in range(5):
        assert (road_impute(face, masks[i:i + 1], noise=0.01, seed=2)[0] == batched[i]).all()
    assert (road_impute(torch.from_numpy(face), torch.from_numpy(masks), 0.01, 2) == batched).all()
    assert (road_impute(face, masks.astype(np.uint8), noise=0.01, seed=2) == batched).all()


def test_a_realistic_150x150_deletion_step_is_exact():
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (150, 150, 3)).astype(np.uint8)
    y, x = np.mgrid[:150, :150]
    salient = -((y - 70) ** 2 + (x - 80) ** 2) + 400 * np.sin(x / 9.0) * np.cos(y / 13.0)
    mask = salient >= np.quantile(salient, 0.6)  # the 40 % most salient pixels, in blobs
    out = road_impute(face, mask[None], noise=0)[0].astype(np.float64)
    residual = out[mask] - sum(  # the defining equation, s x = sum of w x over the 8 neighbours
        weight * np.roll(out, (-dy, -dx), axis=(0, 1))[mask]
        for dy, dx, weight in [(-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
                               (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12)])
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = True
    assert np.abs(residual[inner[mask]]).max() < 1e-3  # away from the border, s = 1
    assert (out[~mask] == face[~mask]).all()


def test_the_dissection_order_numbers_every_cell_once():
    for h, w in [(150, 150), (1, 7), (2, 2), (9, 31), (17, 4)]:
        assert np.array_equal(np.sort(_dissection(h, w)), np.arange(h * w))


@pytest.mark.parametrize("face,masks,kwargs", [
    (np.zeros((8, 8)), np.zeros((1, 8, 8), bool), {}),
    (np.zeros((8, 8, 3)), np.zeros((8, 8), bool), {}),
    (np.zeros((8, 8, 3)), np.zeros((1, 8, 9), bool), {}),
    (np.zeros((8, 8, 3)), np.zeros((1, 8, 8), bool), {"noise": -0.1}),
    (np.zeros((8, 8, 3)), np.zeros((1, 8, 8), bool), {"seed": -1}),
    (np.full((8, 8, 3), np.nan), np.zeros((1, 8, 8), bool), {}),
])
def test_bad_inputs_are_refused(face, masks, kwargs):
    with pytest.raises(ValueError):
        road_impute(face, masks, **kwargs)
