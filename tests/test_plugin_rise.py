"""The ``rise`` explainer of the s2w-perturb plugin: RISE-style random-mask saliency of a pair."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("s2w_perturb", reason="install ./plugins/s2w-perturb (README test command)")

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from s2w_perturb.masks import MaskSampler  # noqa: E402
from s2w_perturb.rise import RISEExplainer, rise_saliency  # noqa: E402
from s2w_toolkit import Explanation, Pair  # noqa: E402
from s2w_toolkit.backbones.wrapped import wrap_module  # noqa: E402
from s2w_toolkit.errors import OptionError  # noqa: E402

SIZE = 32


class LeftHalf(nn.Module):
    """An embedding that reads only the left half of the image."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator) * 0.3)
            self.conv.bias.copy_(torch.randn(8, generator=generator) * 0.1)
        self.pool = nn.AdaptiveAvgPool2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x[..., : x.shape[-1] // 2]))).flatten(1)


@pytest.fixture(scope="module")
def tiny():
    return wrap_module(LeftHalf(), input_size=(SIZE, SIZE), name="left-half")


def make_pair(net, faces: np.ndarray) -> Pair:
    x = net.preprocess(faces)
    return Pair(a=x[:1], b=x[1:], image_a=faces[0], image_b=faces[1])


@pytest.fixture(scope="module")
def tiny_pair(tiny):
    faces = np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    return make_pair(tiny, faces)


def test_same_seed_same_maps_other_seed_other_maps(tiny, tiny_pair):
    first = RISEExplainer(samples="64").explain(tiny_pair, tiny)
    again = RISEExplainer(samples="64", seed="0").explain(tiny_pair, tiny)
    other = RISEExplainer(samples="64", seed="1").explain(tiny_pair, tiny)
    for side in "ab":
        assert np.array_equal(first.maps[side], again.maps[side])
        assert np.abs(first.maps[side] - other.maps[side]).max() > 1e-3
    assert first.score == other.score
    masks = MaskSampler(8, (SIZE, SIZE), seed=0).masks(0, 8)
    assert torch.equal(masks, MaskSampler(8, (SIZE, SIZE), seed=0).masks(0, 8))
    assert not torch.equal(masks, MaskSampler(8, (SIZE, SIZE), seed=1).masks(0, 8))


def test_identical_across_batch_sizes(tiny, tiny_pair, net):
    small = RISEExplainer(samples="64", batch_size="7").explain(tiny_pair, tiny)
    large = RISEExplainer(samples="64", batch_size="64").explain(tiny_pair, tiny)
    for side in "ab":
        assert np.abs(small.maps[side] - large.maps[side]).max() < 1e-5
    # the real default backbone: chunks 5 + 5 + 2 against one chunk of 12
    faces = np.random.default_rng(3).integers(0, 256, (2, *net.input_size, 3), dtype=np.uint8)
    real = make_pair(net, faces)
    small = RISEExplainer(samples="6", batch_size=5).explain(real, net)
    large = RISEExplainer(samples="6", batch_size=64).explain(real, net)
    for side in "ab":
        assert small.maps[side].shape == (150, 150)
        assert np.abs(small.maps[side] - large.maps[side]).max() < 1e-5


def test_masks_are_rise_masks():
    sampler = MaskSampler(40, (30, 20), cells=4, p=0.3, seed=3)
    assert sampler.cell_size == (8, 5) and sampler.upsampled_size == (40, 25)
    assert bool((sampler.shifts[:, 0] < 8).all()) and bool((sampler.shifts[:, 1] < 5).all())
    masks = sampler.masks(0, 40)
    assert masks.shape == (40, 30, 20) and float(masks.min()) >= 0 and float(masks.max()) <= 1
    # one mask by hand: upsample its grid, cut the window at its shift
    up = torch.nn.functional.interpolate(sampler.grids[5][None, None].float(), size=(40, 25), mode="bilinear",
                                         align_corners=False)[0, 0]
    dy, dx = sampler.shifts[5].tolist()
    assert torch.allclose(masks[5], up[dy:dy + 30, dx:dx + 20])
    # rendered by chunks equals rendered at once
    assert torch.equal(torch.cat([sampler.masks(0, 13), sampler.masks(13, 40)]), masks)
    # the keep rate is p on average
    grids = MaskSampler(2000, (14, 14), cells=7, p=0.3, seed=0).grids
    assert abs(grids.float().mean().item() - 0.3) < 0.01


@pytest.mark.parametrize("center", [True, False])
def test_saliency_equals_the_formula_by_hand(tiny, tiny_pair, center):
    n, p = 16, 0.5
    result = rise_saliency(tiny_pair, tiny, samples=n, p=p, seed=2, batch_size=5, center=center)
    masks = MaskSampler(2 * n, (SIZE, SIZE), p=p, seed=2).masks(0, 2 * n).double()
    black = tiny.preprocess(np.zeros((SIZE, SIZE, 3), np.uint8))
    with torch.no_grad():
        assert result["score"] == pytest.approx(tiny.similarity(tiny_pair.a, tiny_pair.b).item(), abs=1e-6)
        for k, (side, face, other) in enumerate([("a", tiny_pair.a, tiny_pair.b), ("b", tiny_pair.b, tiny_pair.a)]):
            scores, total = [], torch.zeros(SIZE, SIZE, dtype=torch.float64)
            for i in range(n):
                m = masks[k * n + i].float()
                scores.append(tiny.similarity(face * m + black * (1 - m), other).item())
            mean = sum(scores) / n if center else 0.0
            for i in range(n):
                total += (scores[i] - mean) * masks[k * n + i]
            assert np.allclose(result["scores"][side].numpy(), scores, atol=1e-6)
            assert torch.allclose(result["maps"][side], total / (n * p), atol=1e-5)


def test_saliency_mass_lies_where_the_model_looks(tiny, tiny_pair):
    # N = 256 (not 64): the right half is pure sampling noise, which shrinks as 1/sqrt(N)
    e = RISEExplainer(samples="256").explain(tiny_pair, tiny)
    for side in "ab":
        positive = np.clip(e.maps[side], 0, None)
        assert positive[:, : SIZE // 2].sum() / positive.sum() > 0.8
    # the uncentred (plain RISE) map is about the mean masked score everywhere
    plain = RISEExplainer(samples="256", center="false").explain(tiny_pair, tiny)
    mean_a = plain.metadata["mean_masked_score"]["a"]
    assert abs(float(plain.maps["a"][:, SIZE // 2 + 4:].mean()) - mean_a) < 0.1 * mean_a
    assert plain.metadata["baseline_subtracted"] == {"a": 0.0, "b": 0.0}


@pytest.mark.parametrize("batch_size", [7, 50, 64, 200])
def test_forward_passes(tiny, tiny_pair, batch_size):
    sizes = []
    handle = tiny.register_forward_hook(lambda module, args, out: sizes.append(args[0].shape[0]))
    try:
        e = RISEExplainer(samples="64", batch_size=str(batch_size)).explain(tiny_pair, tiny)
    finally:
        handle.remove()
    masked = math.ceil(2 * 64 / batch_size)
    # one pass for the unmasked pair, then the 2N masked images in chunks of batch_size
    assert sizes[0] == 2 and len(sizes) == 1 + masked
    assert sizes[1:] == [batch_size] * (masked - 1) + [128 - batch_size * (masked - 1)]
    assert e.metadata["masked_forward_passes"] == masked
    assert e.metadata["forward_passes"] == len(sizes)


def test_finite_on_constant_images_and_identical_pairs(tiny, net):
    for backbone, samples in ((tiny, 16), (net, 3)):
        size = backbone.input_size
        grey = np.full((2, *size, 3), 128, np.uint8)
        face = np.random.default_rng(1).integers(0, 256, (1, *size, 3), dtype=np.uint8)
        for faces in (grey, np.concatenate([face, face])):
            e = RISEExplainer(samples=str(samples)).explain(make_pair(backbone, faces), backbone)
            assert all(np.isfinite(e.maps[s]).all() for s in "ab") and math.isfinite(e.score)
            json.loads(e.to_json())
    # a black pair under a black fill: every masked image equals the original, so no saliency
    e = RISEExplainer(samples="8").explain(make_pair(tiny, np.zeros((2, SIZE, SIZE, 3), np.uint8)), tiny)
    assert all(np.isfinite(e.maps[s]).all() and np.abs(e.maps[s]).max() < 1e-5 for s in "ab")


def test_options_and_metadata(tiny, tiny_pair):
    e = RISEExplainer(samples="16", cells="5", p="0.25", seed="4", batch_size="9", center="no", fill="mean").explain(
        tiny_pair, tiny)
    m = e.metadata
    assert (m["samples"], m["cells"], m["p"], m["seed"], m["batch_size"], m["center"], m["fill"]) == \
        (16, 5, 0.25, 4, 9, False, "mean")
    assert "Petsiuk" in m["reference"] and "Williford" in m["reference"] and "N * p" in m["formula"]
    assert m["forward_passes"] == 1 + math.ceil(32 / 9)
    black = RISEExplainer(samples="16", cells="5", p="0.25", seed="4", center="no").explain(tiny_pair, tiny)
    assert np.abs(black.maps["a"] - e.maps["a"]).max() > 1e-4
    defaults = RISEExplainer().settings
    assert defaults == {"samples": 500, "cells": 7, "p": 0.5, "seed": 0, "batch_size": 64, "center": True,
                        "fill": "black"}
    for bad in ({"samples": "0"}, {"p": "1.5"}, {"cells": "x"}, {"center": "maybe"}, {"fill": "sparkle"},
                {"unrelated": "1"}):
        with pytest.raises(OptionError):
            RISEExplainer(**bad)


def test_cli(run_cli, demo, tmp_path):
    result = run_cli("explain", "-e", "rise", "-o", "samples=4", "--batch-size", "16", demo["obama"], demo["biden"],
                     "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "rise.json").read_text())
    assert data["metadata"]["samples"] == 4 and data["metadata"]["forward_passes"] == 2
    assert Explanation.load(tmp_path / "rise.json").maps["a"].shape == (150, 150)
    assert data["maps"] is None and data["maps_file"] == "rise.npz"  # the maps live in the archive
    assert (tmp_path / "rise.png").stat().st_size > 10_000
    crop = tmp_path / "crop.png"  # an aligned crop: no face detection needed to reach the options
    Image.fromarray(np.full((150, 150, 3), 90, np.uint8)).save(crop)
    bad = run_cli("explain", "-e", "rise", "-o", "fill=sparkle", "--aligned", crop, crop, "--out", tmp_path)
    assert bad.exit_code != 0 and "option 'fill' wants one of: black, mean, got 'sparkle'" in bad.output


@pytest.mark.parametrize("module", ["s2w_perturb", "s2w_perturb.masks", "s2w_perturb.rise"])
def test_docstring_examples(module):
    import doctest
    import importlib

    failed, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failed == 0 and tried > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_pair):
    cpu_net = wrap_module(LeftHalf(), input_size=(SIZE, SIZE))
    gpu_net = wrap_module(LeftHalf(), input_size=(SIZE, SIZE)).to("cuda")
    gpu_pair = Pair(a=tiny_pair.a.cuda(), b=tiny_pair.b.cuda(), image_a=tiny_pair.image_a, image_b=tiny_pair.image_b)
    on_cpu = RISEExplainer(samples="32").explain(tiny_pair, cpu_net)
    on_gpu = RISEExplainer(samples="32").explain(gpu_pair, gpu_net)
    for side in "ab":
        assert np.abs(on_cpu.maps[side] - on_gpu.maps[side]).max() < 1e-4
