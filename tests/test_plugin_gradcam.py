"""The s2w-gradcam plugin: Grad-CAM, Grad-CAM++, LayerCAM, Integrated Gradients and Occlusion.

Parity with hand-written versions (hooks + ``torch.autograd.grad``, Gauss-Legendre IG, patch
occlusion) on a tiny wrapped network whose gradients have a closed form; then the real default
backbone on the demo faces, and ``s2w explain`` end to end.
"""

from __future__ import annotations

import copy
import doctest
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

s2w_gradcam = pytest.importorskip("s2w_gradcam", reason="install ./plugins/s2w-gradcam (README test command)")

from s2w_gradcam import explainer as E  # noqa: E402
from s2w_gradcam import maps as M  # noqa: E402

from s2w_toolkit import Explanation, load_pair  # noqa: E402
from s2w_toolkit.backbones.wrapped import wrap_module  # noqa: E402
from s2w_toolkit.errors import OptionError  # noqa: E402
from s2w_toolkit.interfaces import Pair  # noqa: E402

SIZE = 8


def tiny_net():
    """Conv(3->2, 3x3) -> ReLU -> global mean: channel 0 is red minus blue, channel 1 blue minus
    red plus a bit of the centre's green, so each is positive at some places and not at others."""
    conv = nn.Conv2d(3, 2, 3, bias=True)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1 / 9
        conv.weight[0, 2] = -1 / 9
        conv.weight[1, 2] = 1 / 9
        conv.weight[1, 0] = -1 / 9
        conv.weight[1, 1, 1, 1] = 0.3
        conv.bias.copy_(torch.tensor([0.05, -0.1]))
    module = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    # the hand-written maps below are at the convolution's output, before the ReLU
    return wrap_module(module, input_size=(SIZE, SIZE), mean=(0, 0, 0), std=(255, 255, 255), cam_layer=conv,
                       name="tiny")


def tiny_pair(net, seed=0):
    faces = np.random.default_rng(seed).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    faces[0, ..., 2] = faces[0, ..., 2] // 5 * 4  # reddish a, bluish b: cosine about 0.25
    faces[1, ..., 0] = faces[1, ..., 0] // 5 * 4
    x = net.preprocess(faces)
    return Pair(a=x[:1], b=x[1:], image_a=faces[0], image_b=faces[1])


def minmax(m):
    low, high = m.min(), m.max()
    return (m - low) / (high - low) if high > low else torch.zeros_like(m)


def hand_grads(net, x, target):
    """Activations A of the CAM layer and g = dS/dA, S = cos(net(x), target), via a hook."""
    store = {}
    hook = net.cam_layer.register_forward_hook(lambda m, i, out: store.__setitem__("A", out))
    try:
        with torch.enable_grad():
            s = (F.normalize(net(x), dim=1) * target).sum()
            (g,) = torch.autograd.grad(s, store["A"])
    finally:
        hook.remove()
    return g, store["A"].detach()


def hand_cam(method, g, a):
    if method == "gradcam":
        cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1))
    elif method == "layercam":
        cam = F.relu((F.relu(g) * a).sum(dim=1))
    else:  # Grad-CAM++, Chattopadhyay et al. eq. 19 with Y = exp(S)
        denom = 2 * g**2 + a.sum(dim=(2, 3), keepdim=True) * g**3
        alpha = torch.where(denom != 0, g**2 / torch.where(denom != 0, denom, 1), 0)
        w = (alpha * F.relu(g)).sum(dim=(2, 3), keepdim=True)
        cam = F.relu((w * a).sum(dim=1))
    up = F.interpolate(cam[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0]
    return minmax(up)


def test_hand_gradients_match_the_closed_form():
    # e = mean_ij relu(A), S = e.t / |e|  =>  dS/dA_kij = (t_k - S e_k/|e|) / |e| * [A_kij > 0] / (h w)
    net = tiny_net()
    pair = tiny_pair(net)
    target = F.normalize(net(pair.b), dim=1).detach()
    g, a = hand_grads(net, pair.a, target)
    e = F.relu(a).mean(dim=(2, 3))
    s = float((F.normalize(e, dim=1) * target).sum())
    ds_de = (target - s * e / e.norm()) / e.norm()
    closed = ds_de[:, :, None, None] * (a > 0) / (a.shape[2] * a.shape[3])
    assert a.shape == (1, 2, SIZE - 2, SIZE - 2) and (a > 0).any() and (a <= 0).any()
    assert torch.allclose(g, closed, atol=1e-7)
    assert g.abs().max() > 1e-4  # the two embeddings are not parallel: a real gradient


@pytest.mark.parametrize("cls", [E.GradCAMExplainer, E.GradCAMPlusPlusExplainer, E.LayerCAMExplainer])
def test_cams_equal_hand_written_ones_on_a_tiny_net(cls):
    net = tiny_net()
    pair = tiny_pair(net)
    e = cls().explain(pair, net)
    emb = {s: F.normalize(net(getattr(pair, s)), dim=1).detach() for s in "ab"}
    assert e.score == pytest.approx(float((emb["a"] * emb["b"]).sum()), abs=1e-7)
    for side, other in (("a", "b"), ("b", "a")):
        g, a = hand_grads(net, getattr(pair, side), emb[other])
        expected = hand_cam(cls.method, g, a).numpy()
        assert e.maps[side].shape == (SIZE, SIZE)
        assert np.abs(e.maps[side] - expected).max() < 1e-6, (cls.method, side)
        assert expected.max() == 1.0
    assert e.metadata["method"] == cls.method and e.metadata["sides"]["a"]["layer"] == "module.0"
    assert e.metadata["sides"]["a"]["layer_size"] == [SIZE - 2, SIZE - 2]


def test_integrated_gradients_equal_a_hand_gauss_legendre_sum():
    net = tiny_net()
    pair = tiny_pair(net, seed=1)
    steps = 6
    e = E.IntegratedGradientsExplainer(steps=str(steps), batch_size="4").explain(pair, net)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    black = net.preprocess(np.zeros((1, SIZE, SIZE, 3), np.uint8))
    for side, other in (("a", "b"), ("b", "a")):
        x = getattr(pair, side)
        target = F.normalize(net(getattr(pair, other)), dim=1).detach()
        total = torch.zeros_like(x)
        for node, weight in zip(nodes, weights):
            point = (black + 0.5 * (node + 1) * (x - black)).requires_grad_(True)
            (grad,) = torch.autograd.grad((F.normalize(net(point), dim=1) * target).sum(), point)
            total += 0.5 * weight * grad
        ig = (x - black) * total
        assert np.abs(e.extra_maps["signed-attribution"][side] - ig.sum(dim=1)[0].numpy()).max() < 1e-6
        assert np.abs(e.maps[side] - minmax(ig.abs().sum(dim=1)[0]).numpy()).max() < 1e-6
        info = e.metadata["sides"][side]
        with torch.no_grad():
            s_x = float((F.normalize(net(x), dim=1) * target).sum())
            s_black = float((F.normalize(net(black), dim=1) * target).sum())
        assert info["baseline_similarity"] == pytest.approx(s_black, abs=1e-6)
        assert info["convergence_delta"] == pytest.approx(float(ig.sum()) - (s_x - s_black), abs=1e-6)


@pytest.mark.parametrize("window", [4, SIZE])
def test_occlusion_equals_hand_patch_drops(window):
    net = tiny_net()
    pair = tiny_pair(net, seed=2)
    e = E.OcclusionExplainer(window=window, stride=window, batch_size=3).explain(pair, net)
    black = net.preprocess(np.zeros((1, SIZE, SIZE, 3), np.uint8))
    for side, other in (("a", "b"), ("b", "a")):
        x = getattr(pair, side)
        target = F.normalize(net(getattr(pair, other)), dim=1).detach()
        score = lambda z: float((F.normalize(net(z), dim=1) * target).sum().detach())  # noqa: E731
        drop = torch.zeros(SIZE, SIZE)
        for top in range(0, SIZE, window):
            for left in range(0, SIZE, window):
                occluded = x.clone()
                occluded[..., top:top + window, left:left + window] = black[..., top:top + window, left:left + window]
                drop[top:top + window, left:left + window] = score(x) - score(occluded)
        assert np.abs(e.extra_maps["similarity-drop"][side] - drop.numpy()).max() < 1e-6
        assert np.abs(e.maps[side] - minmax(drop).numpy()).max() < 1e-6  # 3 x drop, min-max scaled
        assert e.metadata["sides"][side]["patches"] == (SIZE // window) ** 2
    if window == SIZE:  # one patch: a flat map, which is 0, not NaN
        assert not e.maps["a"].any() and np.isfinite(e.maps["a"]).all()


def test_options_are_parsed_checked_and_declared_per_method():
    g = E.GradCAMExplainer(method="Occlusion", window="21", stride="7", steps="5", batch_size=3, seed="1")
    o = g.options
    assert (g.method, o.window, o.stride, o.steps, o.batch_size) == ("occlusion", 21, 7, 5, 3)
    o = E.GradCAMExplainer().options
    assert (o.steps, o.window, o.stride, o.batch_size) == (32, 15, 8, 64)
    with pytest.raises(OptionError, match="'gradcam' has no option 'top_k'"):  # another explainer's option
        E.GradCAMExplainer(top_k="2")
    with pytest.raises(OptionError, match="'gradcam\\+\\+' has no option 'method'"):  # the name fixes the method
        E.GradCAMPlusPlusExplainer(method="layercam")
    with pytest.raises(OptionError, match="'integrated-gradients' has no option 'window'"):
        E.IntegratedGradientsExplainer(window="20")
    for bad in ({"method": "lime"}, {"steps": "0"}, {"window": "1.5"}, {"batch_size": "-2"}):
        with pytest.raises(OptionError, match=f"option '{next(iter(bad))}'"):
            E.GradCAMExplainer(**bad)
    net = tiny_net()
    with pytest.raises(ValueError, match="larger than"):
        E.OcclusionExplainer(window=SIZE + 1).explain(tiny_pair(net), net)


def test_each_explainer_has_its_family_base_and_the_gradcam_method_option_delegates():
    from s2w_toolkit.explainers.families import GradientExplainer, LayerExplainer, PerturbationExplainer

    assert issubclass(E.IntegratedGradientsExplainer, GradientExplainer)
    assert issubclass(E.OcclusionExplainer, PerturbationExplainer)
    for cam in (E.GradCAMExplainer, E.GradCAMPlusPlusExplainer, E.LayerCAMExplainer):
        assert issubclass(cam, LayerExplainer)
    for other in (E.IntegratedGradientsExplainer, E.OcclusionExplainer):  # no method flag needed
        assert not issubclass(other, E.GradCAMExplainer) and "method" not in other.Options.__dataclass_fields__
    net = tiny_net()
    pair = tiny_pair(net)
    own = E.OcclusionExplainer(window="4", stride="4").explain(pair, net)
    via = E.GradCAMExplainer(method="occlusion", window="4", stride="4").explain(pair, net)
    assert via.explainer == "gradcam" and own.explainer == "occlusion"
    assert all(np.array_equal(via.maps[s], own.maps[s]) for s in "ab")
    assert via.metadata["family"] == "perturbation" and via.metadata["parameters"] == own.metadata["parameters"]
    assert np.array_equal(via.extra_maps["similarity-drop"]["a"], own.extra_maps["similarity-drop"]["a"])


def test_registered_names_resolve_to_the_classes():
    from s2w_toolkit import get_registry

    reg = get_registry()
    for name, cls_name in s2w_gradcam.EXPLAINERS.items():
        cls = reg.explainer(name)
        assert cls is getattr(E, cls_name) and cls.name == name
        assert cls.method == name


@pytest.mark.parametrize("module", [s2w_gradcam, M, E], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0


# ---- the default backbone on real faces ---------------------------------------------------------


@pytest.fixture(scope="module")
def pair(net, demo):
    return load_pair(demo["obama"], demo["biden"], net)


def check_maps(e, size):
    for side in "ab":
        m = e.maps[side]
        assert m.shape == size and np.isfinite(m).all()
        assert m.min() >= 0 and m.max() <= 1
    for maps in e.extra_maps.values():
        assert all(np.isfinite(maps[s]).all() and maps[s].shape == size for s in "ab")
    json.dumps(e.to_dict())  # metadata is JSON


def test_cams_on_real_faces_are_finite_and_deterministic(net, pair):
    size = tuple(pair.image_a.shape[:2])
    cosine = float(net.similarity(pair.a, pair.b).detach())
    runs = {cls: cls().explain(pair, net) for cls in (E.GradCAMExplainer, E.GradCAMPlusPlusExplainer, E.LayerCAMExplainer)}
    for cls, e in runs.items():
        check_maps(e, size)
        assert e.score == pytest.approx(cosine, abs=1e-6)
        assert all(e.maps[s].max() == 1.0 for s in "ab")  # not flat on a real pair
        assert e.metadata["sides"]["a"]["layer_size"] == [8, 8] and e.metadata["sides"]["a"]["peak"] > 1e-4
    again = E.GradCAMExplainer().explain(pair, net)
    # deterministic: no random draw anywhere. oneDNN's CPU convolutions may round differently
    # (by ~1e-7) when the same tensors sit at differently aligned addresses, so not bit for bit
    assert all(np.allclose(again.maps[s], runs[E.GradCAMExplainer].maps[s], rtol=0, atol=1e-6) for s in "ab")
    assert not np.allclose(runs[E.GradCAMExplainer].maps["a"], runs[E.LayerCAMExplainer].maps["a"])  # different methods differ


def test_gradcam_moves_when_the_model_moves(net, pair):
    before = E.GradCAMExplainer().explain(pair, net)
    moved = copy.deepcopy(net)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.2 * p.std().nan_to_num(0) * torch.randn(p.shape, generator=generator))
    after = E.GradCAMExplainer().explain(pair, moved)
    check_maps(after, before.maps["a"].shape)
    assert after.score != pytest.approx(before.score, abs=1e-4)
    assert max(np.abs(after.maps[s] - before.maps[s]).max() for s in "ab") > 0.1


def batch_sizes(net):
    seen = []
    hook = net.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    return seen, hook


def test_occlusion_and_ig_respect_batch_size(net, pair):
    size = tuple(pair.image_a.shape[:2])
    seen, hook = batch_sizes(net)
    try:
        occ = E.OcclusionExplainer(window="75", stride="75", batch_size="3").explain(pair, net)
        occ_sizes, seen[:] = list(seen), []
        ig = E.GradCAMExplainer(method="integrated-gradients", steps="4", batch_size="2").explain(pair, net)
        ig_sizes = list(seen)
    finally:
        hook.remove()
    check_maps(occ, size)
    check_maps(ig, size)
    assert max(occ_sizes) == 3 and occ.metadata["sides"]["a"]["patches"] == 4
    assert max(ig_sizes) == 2 and ig.metadata["parameters"]["steps"] == 4
    assert np.abs(ig.metadata["sides"]["a"]["convergence_delta"]) < 0.5
    big = E.OcclusionExplainer(window="75", stride="75", batch_size="4").explain(pair, net)
    assert all(np.allclose(big.maps[s], occ.maps[s], atol=1e-5) for s in "ab")  # batching changes nothing


def test_same_face_twice_and_a_flat_face_give_finite_maps(net, pair):
    size = tuple(pair.image_a.shape[:2])
    same = Pair(a=pair.a, b=pair.a.clone(), image_a=pair.image_a, image_b=pair.image_a)
    grey = np.full((1, *pair.image_a.shape), 128, np.uint8)
    flat = net.preprocess(grey)
    flat_pair = Pair(a=flat, b=flat.clone(), image_a=grey[0], image_b=grey[0])
    for e in (E.GradCAMPlusPlusExplainer().explain(same, net), E.LayerCAMExplainer().explain(same, net),
              E.GradCAMExplainer().explain(flat_pair, net), E.IntegratedGradientsExplainer(steps=2).explain(flat_pair, net)):
        check_maps(e, size)
        assert e.score == pytest.approx(1.0, abs=1e-5)
        assert all(e.metadata["sides"][s]["non_finite_values"] == 0 for s in "ab")
        if e.metadata["method"] != "integrated-gradients":  # a cosine at its maximum: no gradient but rounding
            assert all(e.metadata["sides"][s]["peak"] < 1e-5 for s in "ab")


def test_cli_writes_json_and_png_for_gradcam_and_occlusion(run_cli, tmp_path, demo):
    result = run_cli("explain", "-e", "gradcam", "-e", "occlusion", demo["obama"], demo["biden"],
                     "-o", "window=50", "-o", "stride=50", "--batch-size", "16", "--out", tmp_path,
                     "--device", "cpu")
    assert result.exit_code == 0, result.output
    for name in ("gradcam", "occlusion"):
        e = Explanation.load(tmp_path / f"{name}.json")
        assert e.explainer == name and e.metadata["method"] == name and e.backbone == "dlib-resnet"
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        assert e.maps["a"].shape == (150, 150) and np.isfinite(e.maps["b"]).all()
    occ = json.loads((tmp_path / "occlusion.json").read_text())
    assert occ["metadata"]["parameters"]["window"] == 50 and occ["metadata"]["parameters"]["batch_size"] == 16
    assert set(occ["extra_maps"]) == {"similarity-drop"}
