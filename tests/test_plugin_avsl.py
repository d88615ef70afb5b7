"""The s2w-avsl plugin: which levels it picks, and its level cosines, weights and maps by hand."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip("s2w_avsl", reason="install ./plugins/s2w-avsl (README test command)")

from s2w_toolkit import Explanation, Pair, load_pair  # noqa: E402
from s2w_toolkit.backbones.wrapped import wrap_module  # noqa: E402
from s2w_toolkit.errors import OptionError  # noqa: E402
from s2w_avsl.explainer import AVSLExplainer, level_similarity, level_weights  # noqa: E402


def pair_of(net, face_a: np.ndarray, face_b: np.ndarray) -> Pair:
    x = net.preprocess(np.stack([face_a, face_b]))
    return Pair(x[:1], x[1:], face_a, face_b)


def hooked(net, names, x):
    """The outputs of the named modules for ``net(x)``, caught by this test's own hooks."""
    found = {}
    handles = [net.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: found.__setitem__(n, o.detach()))
               for n in names]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return [found[n] for n in names]


def hand_level(fa, fb):
    """Cell cosines, cell weights and the pooled cosine of one level, written out plainly."""
    fa, fb = fa.double(), fb.double()
    prod = fa.norm(dim=0) * fb.norm(dim=0)
    cells = torch.where(prod > 0, (fa * fb).sum(0) / prod, 0.0)  # 0 where a cell is all zeros (ReLU)
    pooled = F.cosine_similarity(fa.mean((1, 2)), fb.mean((1, 2)), dim=0)
    return cells, prod / prod.sum(), float(pooled)


@pytest.fixture(scope="module")
def pairs(net, demo):
    return {other: load_pair(demo["obama"], demo[other], net) for other in ("obama2", "biden")}


def test_identical_images_give_level_cosines_of_one(net, pairs):
    face = pairs["biden"].image_b
    meta = AVSLExplainer().explain(pair_of(net, face, face), net).metadata
    assert meta["level_cosines"] == pytest.approx([1.0] * 3, abs=1e-6)
    assert meta["level_cell_weighted_cosines"] == pytest.approx([1.0] * 3, abs=1e-6)
    assert meta["level_weights"] == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert meta["contribution_sum"] == pytest.approx(1.0, abs=1e-6)
    assert meta["backbone_cosine"] == pytest.approx(1.0, abs=1e-5)


def test_default_levels_deepen_and_shrink_on_dlib_and_match_hand_maths(net, pairs):
    pair = pairs["biden"]
    e = AVSLExplainer().explain(pair, net)
    meta = e.metadata
    assert meta["level_names"] == ["units.2", "units.6", "units.9"]
    sizes = [h * w for h, w in meta["level_resolutions"]]
    assert sizes[0] > sizes[1] > sizes[2] and meta["level_order"] == sorted(set(meta["level_order"]))
    assert meta["level_channels"] == [32, 64, 128]
    (cam,) = hooked(net, ["units.9"], pair.a)
    assert net.cam_layer is net.get_submodule("units.9") and meta["level_resolutions"][-1] == list(cam.shape[2:])
    # level cosines, weights, contributions and maps against hand computations
    feats = hooked(net, meta["level_names"], torch.cat([pair.a, pair.b]))
    hand = [hand_level(f[0], f[1]) for f in feats]
    cosines = [g for _, _, g in hand]
    assert meta["level_cosines"] == pytest.approx(cosines, abs=1e-6)
    positive = np.clip(cosines, 0, None)
    weights = positive / positive.sum()
    assert meta["level_weights"] == pytest.approx(weights.tolist(), abs=1e-9)
    assert meta["level_contributions"] == pytest.approx((weights * cosines).tolist(), abs=1e-9)
    assert meta["contribution_sum"] == pytest.approx(sum(meta["level_contributions"]), abs=1e-12)
    assert meta["contribution_sum_minus_cosine"] == pytest.approx(meta["contribution_sum"] - e.score, abs=1e-12)
    assert meta["backbone_cosine"] == e.score == pytest.approx(float(net.similarity(pair.a, pair.b).detach()), abs=1e-6)
    for i, (key, (cells, omega, _)) in enumerate(zip(e.extra_maps, hand)):
        assert key == f"level{i + 1}:{meta['level_names'][i]}"
        expect = (weights[i] * cells * omega).numpy()
        np.testing.assert_allclose(e.extra_maps[key]["a"], expect, atol=1e-7)
        np.testing.assert_array_equal(e.extra_maps[key]["a"], e.extra_maps[key]["b"])
        assert meta["level_map_sums"][i] == pytest.approx(float(expect.sum()), abs=1e-6)
    # the combined map adds the levels on one scale: its mean is about the sum of the level maps
    assert e.maps["a"].shape == (150, 150) and np.isfinite(e.maps["a"]).all()
    assert float(e.maps["a"].mean()) == pytest.approx(sum(meta["level_map_sums"]), rel=0.02)
    Explanation.from_json(e.to_json())  # metadata is plain JSON


def test_levels_option_picks_the_named_modules(net, pairs):
    pair = pairs["obama2"]
    meta = AVSLExplainer(levels="units.6, stem").explain(pair, net).metadata
    assert meta["level_names"] == ["stem", "units.6"]  # in execution order
    assert meta["level_resolutions"] == [[72, 72], [17, 17]] and meta["level_selection"] == "the levels option"
    assert AVSLExplainer(num_levels="2").explain(pair, net).metadata["level_names"] == ["units.6", "units.9"]
    with pytest.raises(ValueError, match="'nose' is not a submodule"):
        AVSLExplainer(levels="nose").explain(pair, net)
    with pytest.raises(ValueError, match="'fc' does not return a feature map"):
        AVSLExplainer(levels="fc").explain(pair, net)
    with pytest.raises(OptionError, match="option 'num_levels' must be at least 1"):
        AVSLExplainer(num_levels="0")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return wrap_module(body, input_size=(16, 16), name="tiny-conv"), body


def test_hand_parity_on_a_tiny_wrapped_model(tiny):
    net, body = tiny
    faces = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    pair = pair_of(net, faces[0], faces[1])
    e = AVSLExplainer().explain(pair, net)
    meta = e.metadata
    # the cam layer is the last conv (module.4); its resolution's last output is the tanh after it
    assert meta["level_names"] == ["module.1", "module.3", "module.5"]
    assert meta["level_resolutions"] == [[16, 16], [8, 8], [4, 4]]
    x = torch.cat([pair.a, pair.b])
    with torch.no_grad():
        feats = [body[:k](x) for k in (2, 4, 6)]
    hand = [hand_level(f[0], f[1]) for f in feats]
    cosines = [g for _, _, g in hand]
    weights = level_weights(cosines)
    assert meta["level_cosines"] == pytest.approx(cosines, abs=1e-6)
    assert meta["level_weights"] == pytest.approx(weights, abs=1e-6)
    combined = torch.zeros(16, 16, dtype=torch.float64)
    for w, (cells, omega, _) in zip(weights, hand):
        dense = w * cells * omega * cells.numel()
        combined += F.interpolate(dense[None, None], size=(16, 16), mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(e.maps["a"], combined.numpy(), atol=1e-6)
    np.testing.assert_array_equal(e.maps["a"], e.maps["b"])


def test_degenerate_inputs_stay_finite(net, tiny):
    grey = np.full((150, 150, 3), 128, np.uint8)
    black = np.zeros((150, 150, 3), np.uint8)
    for a, b in ((grey, grey), (black, grey)):
        e = AVSLExplainer().explain(pair_of(net, a, b), net)
        maps = [e.maps[s] for s in "ab"] + [m[s] for m in e.extra_maps.values() for s in "ab"]
        assert all(np.isfinite(m).all() for m in maps)
        assert np.isfinite([v for k in ("level_cosines", "level_weights", "level_contributions")
                            for v in e.metadata[k]]).all()
    # a network whose features are all zero: every cosine is defined as 0, weights are uniform
    dead = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(), nn.Flatten())
    with torch.no_grad():
        for conv in (dead[0], dead[2]):
            conv.weight.zero_()
            conv.bias.fill_(-1.0)
    zero_net = wrap_module(dead, input_size=(16, 16), name="dead")
    e = AVSLExplainer().explain(pair_of(zero_net, black[:16, :16], grey[:16, :16]), zero_net)
    assert e.metadata["level_cosines"] == [0.0, 0.0] and e.metadata["level_weights"] == [0.5, 0.5]
    assert not e.maps["a"].any() and np.isfinite(e.score)
    # the helpers on their own: zero and identical features
    s = level_similarity(torch.zeros(3, 2, 2), torch.zeros(3, 2, 2))
    assert s.global_cosine == 0.0 and float(s.cell_weight.sum()) == pytest.approx(1.0)
    assert level_weights([-0.5, -0.1]) == [0.5, 0.5]


def test_cli_with_a_levels_option(run_cli, tmp_path, demo):
    result = run_cli("explain", "-e", "avsl", "-o", "levels=units.6,units.9", demo["obama"], demo["biden"],
                     "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    e = Explanation.load(tmp_path / "avsl.json")
    assert e.metadata["level_names"] == ["units.6", "units.9"] and sorted(e.extra_maps) == [
        "level1:units.6", "level2:units.9"]
    assert e.score == pytest.approx(0.8137, abs=0.01) and (tmp_path / "avsl.png").stat().st_size > 10_000
