"""Folding convolution tails (per-channel Mul and Add, Relu, Minimum(6), Maximum(0)) into the
convolutions: the same outputs and gradients as the graph run node by node, the chain's last
name kept, and a chain stopped where folding would change the meaning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2w_toolkit.weights.tfjs_build import build_tfjs
from s2w_toolkit.weights.tfjs_fuse import fuse_graph
from s2w_toolkit.weights.tfjs_graph import TFJSModule, read_tfjs

RNG = np.random.default_rng(1)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def block(op: str = "DepthwiseConv2dNative", scale_shape=(4,), six: float = 6.0, extra_reader: bool = False):
    """conv -> Mul(k) -> Add(b) -> Relu -> Minimum(six) -> Maximum(0) (a MobileNet block as converted)."""
    w = rand(3, 3, 4, 1) if "Depthwise" in op else rand(3, 3, 4, 4)
    consts = {"w": w, "k": rand(*scale_shape), "b": rand(4), "six": np.array(six, np.float32),
              "zero": np.array(0.0, np.float32)}
    nodes = [("c", op, ["x", "w"], {"strides": [1, 2, 2, 1], "padding": "SAME"}), ("m", "Mul", ["c", "k"], {}),
             ("a", "AddV2", ["m", "b"], {}), ("r", "Relu", ["a"], {}), ("lo", "Minimum", ["r", "six"], {}),
             ("block/clip", "Maximum", ["lo", "zero"], {})]
    outputs = ["block/clip"]
    if extra_reader:  # the Mul's result is also read elsewhere: the chain must stop before it
        nodes.append(("side", "Sigmoid", ["m"], {}))
        outputs.append("side")
    return nodes, consts, outputs


def both(tmp_path, nodes, consts, outputs):
    graph = read_tfjs(build_tfjs(tmp_path, {"x": (-1, 9, 9, 4)}, nodes, consts, outputs=outputs))
    return TFJSModule(graph), TFJSModule(fuse_graph(graph))


@pytest.mark.parametrize("op", ["DepthwiseConv2dNative", "Conv2D"])
def test_a_folded_block_gives_the_same_outputs_and_gradients_in_one_operator(tmp_path, op):
    plain, fused = both(tmp_path, *block(op))
    assert len(plain.ops) == 6 and list(fused.ops) == ["block/clip"]  # the CAM-layer name is kept
    assert fused.ops["block/clip"].act == "Relu6"
    x = torch.from_numpy(rand(3, 9, 9, 4) * 3)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (ya,), (yb,) = plain(xa), fused(xb)
    torch.testing.assert_close(yb, ya, atol=1e-5, rtol=0)
    assert 0 < float((ya == 0).float().mean()) < 1 and float((ya == 6).float().mean()) > 0  # both clips bite
    weight = torch.linspace(0.5, 1.5, ya.numel()).reshape(ya.shape)
    (ya * weight).sum().backward()
    (yb * weight).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kw, kept", [
    ({"scale_shape": (5, 5, 4)}, 6),   # a Mul by a spatial map is not a per-channel scale: nothing folds
    ({"six": 5.0}, 3),                 # Minimum(5) is not ReLU6: conv+Mul+Add+Relu fold, the clip stays
    ({"extra_reader": True}, 6),       # the Mul is read twice: the conv folds nothing, 5 nodes + Sigmoid stay
])
def test_a_chain_stops_where_folding_would_change_the_meaning(tmp_path, kw, kept):
    plain, fused = both(tmp_path, *block(**kw))
    assert len(fused.ops) == kept, list(fused.ops)
    x = torch.from_numpy(rand(2, 9, 9, 4) * 3)
    for a, b in zip(plain(x), fused(x)):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_the_real_faceres_graph_folds_to_one_operator_per_convolution():
    from s2w_toolkit.errors import CheckpointError
    from s2w_toolkit.weights.registry_files import registry_file

    try:
        graph = read_tfjs(registry_file("faceres.json"))
    except CheckpointError as exc:
        pytest.skip(str(exc))
    fused = TFJSModule(fuse_graph(graph))
    ops = [type(m).__name__ for m in fused.ops.values()]
    assert ops.count("_Conv") == 27 and "_Elementwise" in ops and len(fused.ops) < 40
    assert "conv_pw_13_relu/clip_by_value" in fused.ops  # the CAM layer keeps its name
