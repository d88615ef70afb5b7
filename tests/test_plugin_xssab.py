"""The s2w-xssab plugin: signed argument sums add up to the cosine, gradients match hand maths."""

import json

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("s2w_xssab", reason="install ./plugins/s2w-xssab (README test command)")

from s2w_toolkit import Explanation, Pair, load_pair  # noqa: E402
from s2w_toolkit.backbones.wrapped import wrap_module  # noqa: E402
from s2w_toolkit.errors import OptionError  # noqa: E402
from s2w_xssab.explainer import XSSABExplainer, argument_gradients, gradient_map  # noqa: E402


def pair_of(net, face_a: np.ndarray, face_b: np.ndarray) -> Pair:
    x = net.preprocess(np.stack([face_a, face_b]))
    return Pair(x[:1], x[1:], face_a, face_b)


@pytest.fixture(scope="module")
def pairs(net, demo):
    return {other: load_pair(demo["obama"], demo[other], net) for other in ("obama2", "biden")}


@pytest.mark.parametrize("other", ["obama2", "biden"])
def test_positive_plus_negative_sums_equal_the_backbone_cosine(net, pairs, other):
    pair = pairs[other]
    e = XSSABExplainer().explain(pair, net)
    with torch.no_grad():
        cosine = float(net.similarity(pair.a, pair.b)[0])
    meta = e.metadata
    assert meta["sum_pos"] + meta["sum_neg"] == pytest.approx(cosine, abs=1e-5)
    assert e.score == pytest.approx(cosine, abs=1e-6) and meta["sum_check_abs_error"] < 1e-5
    assert meta["sum_pos"] > 0 >= meta["sum_neg"] and meta["n_positive"] + meta["n_negative"] <= 128
    # the arguments are the products of the normalised embeddings, listed largest first
    p = (net.embed(pair.a) * net.embed(pair.b))[0].detach()
    for k, value in meta["top_arguments"]["positive"]:
        assert value == pytest.approx(float(p[k]), abs=1e-6)
    listed = [v for _, v in meta["top_arguments"]["positive"]]
    assert listed == sorted(listed, reverse=True)  # largest first, and the five largest (to float rounding)
    assert listed == pytest.approx(sorted(p[p > 0].tolist(), reverse=True)[:5], abs=1e-6)
    for side in "ab":
        assert e.maps[side].shape == (150, 150) and np.isfinite(e.maps[side]).all()
        np.testing.assert_array_equal(e.maps[side], e.extra_maps["positive"][side])
        assert e.extra_maps["positive"][side].max() > 0 and e.extra_maps["negative"][side].max() > 0
    back = Explanation.from_json(e.to_json())  # metadata is plain JSON
    assert json.loads(e.to_json())["metadata"]["formula"].startswith("p_k = ")
    assert back.metadata["sum_neg"] == meta["sum_neg"]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 6, bias=False))
    net = wrap_module(body, input_size=(8, 8), name="tiny-linear")
    faces = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    return net, body[1].weight.detach().double(), pair_of(net, faces[0], faces[1])


def test_gradients_match_the_closed_form_and_autograd_on_a_linear_model(tiny):
    net, w, pair = tiny
    found = argument_gradients(net, pair.a, pair.b)
    xa, xb = pair.a.double().flatten(), pair.b.double().flatten()
    fa, fb = w @ xa, w @ xb                       # the embedding, by hand
    ua, ub = fa / fa.norm(), fb / fb.norm()
    p = ua * ub
    assert torch.allclose(found.arguments[0].double(), p, atol=1e-6)
    assert p.min() < 0 < p.max()                  # both signs present
    for sign, mask in (("positive", p > 0), ("negative", p < 0)):
        assert float(found.sum_pos[0] if sign == "positive" else found.sum_neg[0]) == pytest.approx(
            float(p[mask].sum()), abs=1e-6)
        # closed form: dS/dx_a = W^T (I - ua ua^T) (mask * ub) / ||fa||, and symmetrically for b
        eye = torch.eye(len(p), dtype=torch.float64)
        grad_a = w.T @ ((eye - torch.outer(ua, ua)) @ (mask * ub)) / fa.norm()
        grad_b = w.T @ ((eye - torch.outer(ub, ub)) @ (mask * ua)) / fb.norm()
        # autograd on the hand-built embedding, with the other face's embedding held constant
        xa_ = xa.clone().requires_grad_(True)
        xb_ = xb.clone().requires_grad_(True)
        ua_, ub_ = w @ xa_, w @ xb_
        ua_, ub_ = ua_ / ua_.norm(), ub_ / ub_.norm()
        (auto_a,) = torch.autograd.grad((ua_ * ub.detach() * mask).sum(), xa_)
        (auto_b,) = torch.autograd.grad((ua.detach() * ub_ * mask).sum(), xb_)
        for side, closed, auto in (("a", grad_a, auto_a), ("b", grad_b, auto_b)):
            got = found.grads[sign][side].double().flatten()
            assert torch.allclose(got, closed, atol=1e-6) and torch.allclose(got, auto, atol=1e-6)


def test_maps_are_the_documented_formulas(tiny):
    net, _, pair = tiny
    found = argument_gradients(net, pair.a, pair.b)
    plain = XSSABExplainer().explain(pair, net)
    gxi = XSSABExplainer(map="gradient-x-input").explain(pair, net)
    for sign in ("positive", "negative"):
        for side, x in (("a", pair.a), ("b", pair.b)):
            g = found.grads[sign][side][0]
            np.testing.assert_allclose(plain.extra_maps[sign][side], g.abs().sum(0).numpy(), atol=1e-7)
            np.testing.assert_allclose(gxi.extra_maps[sign][side], (g * x[0]).sum(0).numpy(), atol=1e-7)
    assert gxi.metadata["formula"].endswith("* x[c,i,j]") and gxi.metadata["options"]["map"] == "gradient-x-input"
    # Euler: with a bias-free linear embedding, S+ is homogeneous of degree 0 in x (the L2
    # normalisation removes the scale), so sum_{c,i,j} x * dS+/dx = 0
    assert abs(float(gxi.extra_maps["positive"]["a"].sum())) < 1e-5


def test_constant_image_and_same_image_twice_stay_finite(net, pairs):
    grey = np.full((150, 150, 3), 128, np.uint8)
    black = np.zeros((150, 150, 3), np.uint8)
    face = pairs["biden"].image_a
    found = {}
    for a, b, mode in ((grey, grey, "gradient-x-input"), (black, grey, "gradient"), (face, face, "gradient")):
        e = found[mode] = XSSABExplainer(map=mode).explain(pair_of(net, a, b), net)
        maps = [e.maps[s] for s in "ab"] + [m[s] for m in e.extra_maps.values() for s in "ab"]
        assert all(np.isfinite(m).all() for m in maps)
        assert np.isfinite([e.metadata["sum_pos"], e.metadata["sum_neg"], e.score]).all()
    same = found["gradient"]
    assert same.metadata["sum_neg"] == 0 and same.metadata["n_negative"] == 0
    assert same.metadata["sum_pos"] == pytest.approx(1.0, abs=1e-5)
    assert not same.extra_maps["negative"]["a"].any() and same.maps["a"].max() > 0
    np.testing.assert_allclose(same.maps["a"], same.maps["b"], rtol=1e-5, atol=1e-9)


def test_bad_and_unknown_options_are_rejected():
    with pytest.raises(OptionError, match="option 'map' wants one of: gradient, gradient-x-input"):
        XSSABExplainer(map="saliency")
    with pytest.raises(OptionError, match="option 'top' must be at least 0"):
        XSSABExplainer(top="-1")
    with pytest.raises(OptionError, match="'xssab' has no option 'levels'"):
        XSSABExplainer(levels="x")
    assert XSSABExplainer(batch_size=8).settings == {"map": "gradient", "top": 5}
    with pytest.raises(ValueError):
        gradient_map(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), "nope")


def test_cli_writes_json_and_png(run_cli, tmp_path, demo):
    result = run_cli("explain", "-e", "xssab", demo["obama"], demo["biden"], "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    e = Explanation.load(tmp_path / "xssab.json")
    assert e.explainer == "xssab" and e.score == pytest.approx(0.8137, abs=0.01)
    assert e.metadata["sum_pos_plus_sum_neg"] == pytest.approx(e.score, abs=1e-5)
    assert (tmp_path / "xssab.png").stat().st_size > 10_000
