"""The TFJS converter: small graph models written here (``model.json`` and shards in tmp_path), each
compared with a reference computed in this file with TensorFlow's semantics written out in numpy
(SAME padding by hand, the odd pixel at the end); dequantisation; refused files; gradients; and
HSE FaceRes (``@vladmandic/human``) against TensorFlow.js's outputs recorded by
``benchmarks/tfjs_parity.py --record``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.weights.tfjs_build import build_tfjs
from s2w_toolkit.weights.tfjs_graph import convert_tfjs

RNG = np.random.default_rng(0)
REFERENCE = Path(__file__).parent / "data" / "faceres_tfjs_reference.npz"
ATOL = 1e-5


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def run(path: Path, *xs: np.ndarray, grad: bool = True) -> list[np.ndarray]:
    """Our module's outputs on ``xs``; with ``grad``, also checks that gradients reach every input."""
    net = convert_tfjs(path)
    ts = [torch.from_numpy(x.copy()).requires_grad_(grad) for x in xs]
    outs = net(*ts)
    assert isinstance(outs, tuple) and len(outs) == len(net.output_names)
    if grad:
        sum((o * torch.linspace(0.5, 1.5, o.numel()).reshape(o.shape)).sum() for o in outs).backward()
        for t in ts:
            assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    return [o.detach().numpy() for o in outs]


def close(ours: np.ndarray, ref: np.ndarray, atol: float = ATOL) -> None:
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    np.testing.assert_allclose(ours, ref, atol=atol, rtol=0)


# --- TensorFlow's semantics, written out ---------------------------------------------------------

def same_pads(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF "SAME": out = ceil(size / stride); the padding it needs, the odd pixel after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def windows(x: np.ndarray, kh: int, kw: int, stride: tuple, dilation: tuple, pads: tuple, value: float = 0.0):
    """The (i, j) taps of every window of NHWC ``x`` padded by (top, bottom, left, right)."""
    x = np.pad(x.astype(np.float64), ((0, 0), pads[:2], pads[2:], (0, 0)), constant_values=value)
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = (x.shape[1] - (kh - 1) * dh - 1) // sh + 1, (x.shape[2] - (kw - 1) * dw - 1) // sw + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]


def pads_of(padding, x: np.ndarray, kh: int, kw: int, stride: tuple, dilation: tuple = (1, 1)) -> tuple:
    if padding == "SAME":
        return same_pads(x.shape[1], kh, stride[0], dilation[0]) + same_pads(x.shape[2], kw, stride[1], dilation[1])
    return (0, 0, 0, 0) if padding == "VALID" else tuple(padding)


def conv_ref(x, w, stride=(1, 1), padding="SAME", dilation=(1, 1), depthwise=False) -> np.ndarray:
    kh, kw = w.shape[:2]
    out = 0.0
    for i, j, tap in windows(x, kh, kw, stride, dilation, pads_of(padding, x, kh, kw, stride, dilation)):
        out = out + ((tap[..., :, None] * w[i, j]).reshape(*tap.shape[:3], -1) if depthwise else tap @ w[i, j])
    return out


def pool_ref(x, k, stride, padding, kind) -> np.ndarray:
    pads = pads_of(padding, x, k, k, (stride, stride))
    if kind == "MaxPool":
        return np.max([t for *_, t in windows(x, k, k, (stride, stride), (1, 1), pads, -np.inf)], axis=0)
    total = sum(t for *_, t in windows(x, k, k, (stride, stride), (1, 1), pads))
    count = sum(t for *_, t in windows(np.ones_like(x[..., :1]), k, k, (stride, stride), (1, 1), pads))
    return total / count  # padding counts for nothing in TF's average


def hw(v: int) -> list[int]:
    return [1, v, v, 1]


# --- operators -----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,stride,size,dilation", [
    ("SAME", 1, 7, 1), ("SAME", 2, 7, 1), ("SAME", 2, 8, 1), ("VALID", 1, 7, 1), ("VALID", 2, 8, 1),
    ("SAME", 1, 9, 2), ("SAME", 2, 9, 2), ([0, 2, 1, 0], 2, 8, 1), ([1, 1, 1, 1], 1, 6, 1)])
def test_conv2d(tmp_path, padding, stride, size, dilation):
    w, x = rand(3, 3, 3, 4), rand(2, size, size, 3)
    attrs = {"strides": hw(stride), "dilations": hw(dilation), "data_format": "NHWC",
             "padding": padding if isinstance(padding, str) else "EXPLICIT"}
    if not isinstance(padding, str):
        attrs["explicit_paddings"] = [0, 0, *padding, 0, 0]
    path = build_tfjs(tmp_path, {"x": (-1, size, size, 3)}, [("y", "Conv2D", ["x", "w"], attrs)], {"w": w})
    close(run(path, x)[0], conv_ref(x, w, (stride, stride), padding, (dilation, dilation)))


@pytest.mark.parametrize("fused,extra", [
    (["BiasAdd"], []), (["BiasAdd", "Relu"], []), (["BiasAdd", "Relu6"], []), (["BiasAdd", "Prelu"], ["alpha"]),
    (["Prelu"], ["alpha"]), (["FusedBatchNorm", "Relu"], ["mean", "var"]), (["BiasAdd", "LeakyRelu"], [])])
def test_fused_conv2d(tmp_path, fused, extra):
    w, b, alpha, x = rand(3, 3, 2, 4), rand(4), rand(4), rand(1, 6, 6, 2, scale=3.0)
    mean, var = rand(4), np.abs(rand(4)) + 0.1
    args = {"BiasAdd": ["b"], "Prelu": ["alpha"], "FusedBatchNorm": ["b", "b2", "mean", "var"]}
    names = list(dict.fromkeys(n for f in fused for n in args.get(f, [])))
    consts = {"w": w, "b": b, "b2": b[::-1].copy(), "alpha": alpha, "mean": mean, "var": var}
    path = build_tfjs(tmp_path, {"x": (1, 6, 6, 2)}, [("y", "_FusedConv2D", ["x", "w", *names], {
        "strides": hw(2), "padding": "SAME", "fused_ops": fused, "num_args": len(names), "epsilon": 0.001,
        "leakyrelu_alpha": 0.3})], consts)
    y = conv_ref(x, w, (2, 2), "SAME")
    if fused[0] == "BiasAdd":
        y = y + b
    if fused[0] == "FusedBatchNorm":
        y = (y - mean) / np.sqrt(var.astype(np.float64) + 0.001) * b + b[::-1]
    act = fused[-1]
    y = {"Relu": np.maximum(y, 0), "Relu6": np.clip(y, 0, 6), "Prelu": np.where(y >= 0, y, alpha * y),
         "LeakyRelu": np.where(y >= 0, y, 0.3 * y)}.get(act, y)
    close(run(path, x)[0], y)


@pytest.mark.parametrize("op,stride,mult,size", [
    ("DepthwiseConv2dNative", 1, 1, 7), ("DepthwiseConv2dNative", 2, 1, 8), ("DepthwiseConv2dNative", 2, 2, 7),
    ("FusedDepthwiseConv2dNative", 2, 1, 8)])
def test_depthwise(tmp_path, op, stride, mult, size):
    w, b, x = rand(3, 3, 3, mult), rand(3 * mult), rand(2, size, size, 3, scale=3.0)
    fused = {"fused_ops": ["BiasAdd", "Relu6"], "num_args": 1} if op.startswith("Fused") else {}
    path = build_tfjs(tmp_path, {"x": (-1, size, size, 3)},
                      [("y", op, ["x", "w"] + (["b"] if fused else []), {"strides": hw(stride), "padding": "SAME",
                                                                        **fused})], {"w": w, "b": b})
    y = conv_ref(x, w, (stride, stride), "SAME", depthwise=True)
    close(run(path, x)[0], np.clip(y + b, 0, 6) if fused else y)


@pytest.mark.parametrize("kind,k,stride,size,padding", [
    ("MaxPool", 2, 2, 7, "SAME"), ("MaxPool", 3, 2, 8, "SAME"), ("MaxPool", 3, 1, 6, "VALID"),
    ("AvgPool", 2, 2, 7, "SAME"), ("AvgPool", 3, 2, 8, "SAME"), ("AvgPool", 3, 1, 5, "SAME"),
    ("AvgPool", 2, 2, 8, "VALID")])
def test_pools(tmp_path, kind, k, stride, size, padding):
    x = rand(2, size, size, 3) - 4.0  # all negative: a zero padding would win a max
    path = build_tfjs(tmp_path, {"x": (-1, size, size, 3)},
                      [("y", kind, ["x"], {"ksize": hw(k), "strides": hw(stride), "padding": padding})])
    close(run(path, x)[0], pool_ref(x, k, stride, padding, kind))


@pytest.mark.parametrize("ta,tb,fused", [(False, False, None), (True, False, None), (False, True, ["BiasAdd"]),
                                         (True, True, ["BiasAdd", "Relu"])])
def test_matmul(tmp_path, ta, tb, fused):
    a, w, b = rand(3, 5), rand(5, 4), rand(4)
    attrs = {"transpose_a": ta, "transpose_b": tb, **({"fused_ops": fused, "num_args": 1} if fused else {})}
    path = build_tfjs(tmp_path, {"a": (5, 3) if ta else (3, 5)},
                      [("y", "_FusedMatMul" if fused else "MatMul", ["a", "w"] + (["b"] if fused else []), attrs)],
                      {"w": w.T.copy() if tb else w, "b": b})
    y = a.astype(np.float64) @ w + (b if fused else 0)
    close(run(path, a.T.copy() if ta else a)[0], np.maximum(y, 0) if fused and "Relu" in fused else y)


def test_matmul_of_two_computed_values(tmp_path):
    a, c = rand(3, 5), rand(4, 5)
    path = build_tfjs(tmp_path, {"a": (3, 5), "c": (4, 5)}, [("y", "MatMul", ["a", "c"], {"transpose_b": True})])
    close(run(path, a, c)[0], a.astype(np.float64) @ c.T)


BINARY = {"Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply, "RealDiv": np.divide,
          "Maximum": np.maximum, "Minimum": np.minimum, "BiasAdd": np.add}


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcasting(tmp_path, op):
    """A rank-4 value with a per-channel constant, then with a computed (H, 1, C) value."""
    shift = 3.0 if op == "RealDiv" else 0.0  # divisors away from 0
    c, x, z = rand(4) + shift, rand(2, 3, 5, 4), rand(3, 1, 4) + shift
    second = "Add" if op == "BiasAdd" else op  # BiasAdd takes a vector: the second node adds
    path = build_tfjs(tmp_path, {"x": (-1, 3, 5, 4), "z": (3, 1, 4)},
                      [("u", op, ["x", "c"], {}), ("y", second, ["u", "z"], {})], {"c": c})
    u = BINARY[op](x.astype(np.float64), c)
    close(run(path, x, z)[0], BINARY[second](u, z))


UNARY = {"Relu": lambda v: np.maximum(v, 0), "Relu6": lambda v: np.clip(v, 0, 6),
         "Sigmoid": lambda v: 1 / (1 + np.exp(-v)), "Tanh": np.tanh, "Sqrt": np.sqrt,
         "Rsqrt": lambda v: 1 / np.sqrt(v), "Square": np.square, "Identity": lambda v: v,
         "Softmax": lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True)}


@pytest.mark.parametrize("op", list(UNARY))
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)])
def test_unary(tmp_path, op, shape):
    x = rand(*shape, scale=3.0) + (10.0 if op in ("Sqrt", "Rsqrt") else 0.0)
    path = build_tfjs(tmp_path, {"x": shape}, [("y", op, ["x"], {})])
    close(run(path, x)[0], UNARY[op](x.astype(np.float64)))


def test_prelu(tmp_path):
    x, alpha = rand(2, 3, 4, 5), rand(5)
    path = build_tfjs(tmp_path, {"x": (-1, 3, 4, 5)}, [("y", "Prelu", ["x", "alpha"], {})], {"alpha": alpha})
    close(run(path, x)[0], np.where(x >= 0, x, alpha * x))


@pytest.mark.parametrize("op,axes,keep", [("Mean", [1, 2], False), ("Mean", [1, 2], True), ("Sum", [3], False),
                                          ("Mean", [-1], True), ("Sum", [0, 2], False), ("Max", [2], False)])
def test_reductions(tmp_path, op, axes, keep):
    x = rand(2, 3, 4, 5)
    path = build_tfjs(tmp_path, {"x": (2, 3, 4, 5)}, [("y", op, ["x", "axes"], {"keep_dims": keep})],
                      {"axes": np.array(axes, np.int32)})
    fn = {"Mean": np.mean, "Sum": np.sum, "Max": np.max}[op]
    close(run(path, x)[0], fn(x.astype(np.float64), axis=tuple(axes), keepdims=keep))


def test_pad_reshape_squeeze(tmp_path):
    x = rand(2, 3, 4, 5)
    pads, shape = np.array([[0, 0], [1, 2], [0, 1], [0, 3]], np.int32), np.array([-1, 6, 5, 8], np.int32)
    path = build_tfjs(tmp_path, {"x": (-1, 3, 4, 5)}, [
        ("p", "Pad", ["x", "pads"], {}), ("r", "Reshape", ["p", "shape"], {}),
        ("q", "Reshape", ["x", "flat"], {}), ("s", "Squeeze", ["q1"], {"squeeze_dims": [1, 3]}),
        ("q1", "Reshape", ["x", "one"], {})],
        {"pads": pads, "shape": shape, "flat": np.array([-1, 60], np.int32), "one": np.array([-1, 1, 60, 1], np.int32)},
        outputs=["r", "q", "s"])
    padded = np.pad(x, pads)
    r, q, s = run(path, x)
    close(r, padded.reshape(-1, 6, 5, 8))
    close(q, x.reshape(2, 60))
    close(s, x.reshape(2, 60))


@pytest.mark.parametrize("begin,end,strides,masks", [
    ([0, 1, 0, 0], [2, 3, 5, 4], [1, 1, 2, 1], {}),
    ([0, 0, 1, 1], [0, 0, 4, 3], [1, 1, 1, 2], {"begin_mask": 3, "end_mask": 3}),
    ([0, 2, 0, 0], [2, 3, 5, 4], [1, 1, 1, 1], {"shrink_axis_mask": 2}),
    ([0, -2, 0, 1], [2, 0, 5, 3], [1, 1, 1, 1], {"end_mask": 2})])
def test_strided_slice(tmp_path, begin, end, strides, masks):
    x = rand(2, 4, 5, 4)
    consts = {k: np.array(v, np.int32) for k, v in (("b", begin), ("e", end), ("s", strides))}
    path = build_tfjs(tmp_path, {"x": (2, 4, 5, 4)}, [("y", "StridedSlice", ["x", "b", "e", "s"], masks)], consts)
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):  # TF's masks, written out
        if masks.get("shrink_axis_mask", 0) >> i & 1:
            index.append(b)
        else:
            index.append(slice(None if masks.get("begin_mask", 0) >> i & 1 else b,
                               None if masks.get("end_mask", 0) >> i & 1 else e, s))
    close(run(path, x)[0], x[tuple(index)])


@pytest.mark.parametrize("axis", [3, -1, 1, 2])
def test_concat_with_a_constant(tmp_path, axis):
    x = rand(2, 3, 4, 2)
    shape = [2, 3, 4, 2]
    shape[axis] = 3
    c = rand(*shape)
    path = build_tfjs(tmp_path, {"x": (2, 3, 4, 2)}, [("y", "ConcatV2", ["x", "c", "axis"], {})],
                      {"c": c, "axis": np.array(axis, np.int32)})
    close(run(path, x)[0], np.concatenate([x, c], axis=axis))


def test_constant_subgraph_is_folded(tmp_path):
    """A node that reads constants only is computed at conversion; an output may be a constant."""
    a, a4 = rand(4), rand(1, 2, 3, 4)
    path = build_tfjs(tmp_path, {"x": (1, 4)}, [("k", "Square", ["a"], {}), ("y", "Add", ["x", "k"], {}),
                                                ("k4", "Relu", ["a4"], {})], {"a": a, "a4": a4},
                      outputs=["y", "k", "k4", "a4"])
    net = convert_tfjs(path)
    assert list(net.ops) == ["y"]
    y, k, k4, same = run(path, np.ones((1, 4), np.float32))
    close(y, 1 + a[None].astype(np.float64) ** 2)
    close(k, a.astype(np.float64) ** 2)
    close(k4, np.maximum(a4, 0))  # a rank-4 constant output comes back NHWC, as declared
    close(same, a4)


# --- weights ---------------------------------------------------------------------------------------

def test_dequantisation(tmp_path):
    """float16 widened; uint8 and uint16 mapped to q * scale + min; shards split across files."""
    w16 = rand(2, 3).astype(np.float16)
    q8, q16 = RNG.integers(0, 256, (2, 3)).astype(np.uint8), RNG.integers(0, 65536, (2, 3)).astype(np.uint16)
    path = build_tfjs(tmp_path, {"x": (2, 3)}, [("a", "Mul", ["x", "w16"], {}), ("b", "Mul", ["x", "q8"], {}),
                                                ("c", "Mul", ["x", "q16"], {})],
                      {"w16": w16, "q8": q8, "q16": q16}, affine={"q8": (-1.5, 0.0125), "q16": (0.25, 1e-4)},
                      outputs=["a", "b", "c"], shard_bytes=7)
    assert len(json.loads(path.read_text())["weightsManifest"][0]["paths"]) > 2
    a, b, c = run(path, np.ones((2, 3), np.float32), grad=False)
    close(a, w16.astype(np.float64), atol=0)
    close(b, (q8 * 0.0125 - 1.5).astype(np.float32), atol=1e-7)
    close(c, (q16 * 1e-4 + 0.25).astype(np.float32), atol=1e-7)


def test_parameters_are_float32_and_filters_oihw(tmp_path):
    w = rand(3, 3, 2, 4).astype(np.float16)
    net = convert_tfjs(build_tfjs(tmp_path, {"x": (1, 5, 5, 2)}, [("c", "Conv2D", ["x", "w"], {"padding": "SAME"})],
                                  {"w": w}))
    assert net.ops["c"].weight.dtype == torch.float32 and net.ops["c"].weight.shape == (4, 2, 3, 3)


# --- the module --------------------------------------------------------------------------------------

def small_net(tmp_path: Path, **kw) -> Path:
    w1, w2, k = rand(3, 3, 3, 4), rand(1, 1, 4, 2), rand(2, 3)
    return build_tfjs(tmp_path, {"x": (-1, 8, 8, 3)}, [
        ("conv", "_FusedConv2D", ["x", "w1", "b1"], {"strides": hw(2), "padding": "SAME",
                                                      "fused_ops": ["BiasAdd", "Relu"], "num_args": 1}),
        ("dw", "Conv2D", ["conv", "w2"], {"padding": "VALID"}), ("pool", "Mean", ["dw", "axes"], {}),
        ("head", "MatMul", ["pool", "k"], {}), ("prob", "Softmax", ["head"], {})],
        {"w1": w1, "b1": rand(4), "w2": w2, "axes": np.array([1, 2], np.int32), "k": k}, **kw)


def test_batch_and_gradients(tmp_path):
    net = convert_tfjs(small_net(tmp_path))
    x = torch.from_numpy(rand(3, 8, 8, 3))
    (batch,) = net(x)
    torch.testing.assert_close(batch[1:2], net(x[1:2])[0])
    xg = x.clone().requires_grad_(True)
    net(xg)[0][:, 0].sum().backward()
    assert torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())


def test_names_without_a_signature(tmp_path):
    """Inputs: the placeholders; outputs: the nodes nothing reads, in node order, constants aside."""
    path = build_tfjs(tmp_path, {"x": (2, 2), "z": (2, 2)},
                      [("a", "Relu", ["x"], {}), ("b", "Add", ["a", "z"], {}), ("c", "Sigmoid", ["a"], {})],
                      {"unused": np.ones(2, np.float32)}, signature=False)
    net = convert_tfjs(path)
    assert net.input_names == ["x", "z"] and net.output_names == ["b", "c"]


def test_signature_names_and_order(tmp_path):
    net = convert_tfjs(small_net(tmp_path, outputs=["prob", "pool"]))
    assert net.input_names == ["x"] and net.output_names == ["prob", "pool"]
    prob, pool = net(torch.zeros(1, 8, 8, 3))
    assert prob.shape == (1, 3) and pool.shape == (1, 2)


def test_channels_first_input_and_cam_layer(tmp_path):
    from s2w_toolkit.cam import find_cam_layer

    net = convert_tfjs(small_net(tmp_path))
    x = torch.from_numpy(rand(2, 8, 8, 3))
    torch.testing.assert_close(net(x.permute(0, 3, 1, 2))[0], net(x)[0])
    assert find_cam_layer(net, (8, 8)) == "ops.dw"  # the last 4x4 map, before the global mean


def test_supported_list_is_what_is_registered():
    from s2w_toolkit.weights.tfjs_ops import SUPPORTED, TFJSOp

    assert SUPPORTED == set(TFJSOp._types) | {"Const", "Placeholder"}


# --- refused files ---------------------------------------------------------------------------------

def refused(path: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as info:
        convert_tfjs(path)
    assert "\n" not in str(info.value)


def edit(path: Path, change) -> Path:
    model = json.loads(path.read_text())
    change(model)
    path.write_text(json.dumps(model))
    return path


def test_not_a_graph_model(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"format": "layers-model", "modelTopology": {"class_name": "Sequential"}}')
    refused(path, "a TFJS layers model")
    path.write_text('{"modelTopology": {"class_name": "Sequential", "config": {}}, "weightsManifest": []}')
    refused(path, "a TFJS layers model")
    path.write_bytes(RNG.bytes(300))
    refused(path, "not a TFJS graph model")
    path.write_text('{"hello": [1, 2]}')
    refused(path, "not a TFJS graph model")
    path.write_text('{"format": "graph-model", "modelTopology": {"node": [{"op": "Relu"}]}}')
    refused(path, "not a readable TFJS graph model")
    path.write_bytes(b"PK\x03\x04" + RNG.bytes(100))
    refused(path, "expected a TFJS graph model .*found a PyTorch checkpoint")
    refused(tmp_path / "absent.json", "no such TFJS model.json")


def test_shards(tmp_path):
    path = small_net(tmp_path)
    shard = tmp_path / "group1-shard1of1.bin"
    data = shard.read_bytes()
    shard.write_bytes(data[:-4])
    refused(path, "manifest needs .* \\(missing or truncated shard\\)")
    shard.write_bytes(data + b"\0\0\0\0")
    refused(path, "missing or truncated shard")
    shard.unlink()
    refused(path, "no such TFJS weight shard")


@pytest.mark.parametrize("bad", ["../group1-shard1of1.bin", "/etc/passwd", "sub/../../x.bin", "C:\\x.bin",
                                 "http://example.com/x.bin", ""])
def test_shard_paths_stay_in_the_folder(tmp_path, bad):
    path = edit(small_net(tmp_path / "m"), lambda m: m["weightsManifest"][0].update(paths=[bad]))
    refused(path, "leaves the model's folder")


def test_absurd_weight_refused_before_reading(tmp_path):
    path = edit(small_net(tmp_path), lambda m: m["weightsManifest"][0]["weights"][0].update(shape=[1 << 20, 1 << 20]))
    refused(path, "'w1' declares shape .*MAX_TENSOR_BYTES")


def test_absurd_intermediate_refused(tmp_path):
    path = build_tfjs(tmp_path, {"x": (1, 64, 64, 3)}, [("p", "Pad", ["x", "pads"], {})],
                      {"pads": np.array([[0, 0], [9000, 9000], [9000, 9000], [0, 0]], np.int32)})
    refused(path, "node 'p' \\(Pad\\) would build .*MAX_TENSOR_BYTES")


def test_unsupported(tmp_path):
    refused(build_tfjs(tmp_path / "a", {"x": (2,)}, [("y", "Cumsum", ["x"], {})]), "unsupported TFJS operator Cumsum")
    refused(build_tfjs(tmp_path / "b", {"x": (1, 4, 4, 3)}, [("y", "Conv2D", ["x", "w"], {"data_format": "NCHW"})],
                       {"w": rand(1, 1, 3, 2)}),
            "unsupported TFJS Conv2D with data_format NCHW \\(node 'y'\\)")
    refused(build_tfjs(tmp_path / "c", {"x": (1, 4, 4, 3)},
                       [("y", "_FusedConv2D", ["x", "w", "b"], {"fused_ops": ["BiasAdd", "Swish"], "num_args": 1})],
                       {"w": rand(1, 1, 3, 2), "b": rand(2)}), "unsupported TFJS _FusedConv2D with fused_ops")


def test_graph_errors(tmp_path):
    refused(build_tfjs(tmp_path / "a", {"x": (2,)}, [("y", "Relu", ["nowhere"], {})]),
            "node 'y' reads 'nowhere', which is no node of the graph")
    refused(build_tfjs(tmp_path / "b", {"x": (2,)}, [("a", "Add", ["x", "b"], {}), ("b", "Relu", ["a"], {})]),
            "in a cycle")
    refused(build_tfjs(tmp_path / "c", {"x": (2,)}, [("y", "Relu", ["x"], {})], outputs=["z"]),
            "the signature names 'z', which is no node")
    refused(build_tfjs(tmp_path / "d", {"x": (1, 4, 4, 3)}, [("y", "Conv2D", ["x", "w"], {"padding": "SAME"})],
                       {"w": rand(3, 3, 5, 2)}), "node 'y' \\(Conv2D\\) does not fit its inputs")
    path = build_tfjs(tmp_path / "e", {"x": (2,)}, [("y", "Add", ["x", "k"], {})], {"k": rand(2)})
    refused(edit(path, lambda m: m["weightsManifest"][0]["weights"][0].update(name="other")),
            "constant 'k' has no weight in the manifest")


def test_a_tfjs_model_is_recognised_by_its_first_bytes(tmp_path):
    from s2w_toolkit.weights.formats import TFJS, TFJS_LAYERS, refuse_unless, sniff_format

    path = small_net(tmp_path)
    assert sniff_format(path) == TFJS
    path.write_text('{"format": "layers-model", "modelTopology": {}}')
    assert sniff_format(path) == TFJS_LAYERS
    path.write_text('{"weights": []}')
    assert sniff_format(path) is None
    with pytest.raises(CheckpointError, match="expected a .pth state dict, found a TFJS graph model"):
        refuse_unless(small_net(tmp_path / "b"), "a PyTorch checkpoint", "a .pth state dict")


# --- HSE FaceRes ---------------------------------------------------------------------------------

def faceres_pattern(batch: int = 2) -> np.ndarray:
    """``pattern`` of benchmarks/tfjs_parity.py (a cartoon face, BGR minus the Caffe means), repeated
    here; the recorded ``input_sum`` checks that both draw the same."""
    n, h, w, c = np.meshgrid(np.arange(batch), np.arange(224), np.arange(224), np.arange(3), indexing="ij")

    def ellipse(cy, cx, ry, rx):
        return np.exp(-np.maximum(((h - cy) / ry) ** 2 + ((w - cx) / rx) ** 2 - 1, 0) * 8)

    background = 60 + 40 * np.sin(0.05 * h + 0.8 * c + n)
    face = ellipse(115 + 3 * n, 112, 85, 65)
    img = background + face * (np.array([150.0, 170.0, 215.0])[c] - background)
    for cx in (85 - 2 * n, 139 + 2 * n):
        img -= face * (110 * ellipse(95, cx, 7, 13) + 60 * ellipse(78, cx, 3, 18))
    img -= face * (70 * ellipse(160, 112, 6, 22) + 25 * ellipse(125, 112, 14, 6))
    img += 12 * np.sin(0.7 * h + 0.5 * w + c) * np.cos(0.3 * w - 0.4 * h + n)
    return (img - np.array([103.939, 116.779, 123.68], np.float32).astype(np.float64)[c]).astype(np.float32)


@pytest.fixture(scope="module")
def faceres():
    from s2w_toolkit.weights.registry_files import registry_file

    try:
        return convert_tfjs(registry_file("faceres.json"))
    except CheckpointError as exc:
        pytest.skip(f"HSE FaceRes is not installed ({exc})")


def test_faceres_matches_tensorflow_js(faceres):
    ref = np.load(REFERENCE)
    x = faceres_pattern(2)
    assert abs(x.astype(np.float64).sum() - float(ref["input_sum"])) < 1e-3 * abs(float(ref["input_sum"]))
    assert faceres.input_names == ["input_1"]
    assert faceres.output_names == ["gender_pred/Sigmoid:0", "global_pooling/Mean", "age_pred/Softmax:0"]
    with torch.no_grad():
        gender, embedding, age = faceres(torch.from_numpy(x))
    assert gender.shape == (2, 1) and embedding.shape == (2, 1024) and age.shape == (2, 100)
    assert (ref["embedding"] > 0).mean() > 0.3  # the pattern excites the embedding, as a face does
    for ours, name in ((gender, "gender"), (embedding, "embedding"), (age, "age")):
        close(ours.numpy(), ref[name], atol=1e-4)


def test_faceres_cam_layer_and_gradients(faceres):
    from s2w_toolkit.cam import find_cam_layer

    assert find_cam_layer(faceres, (224, 224)) == "ops.conv_pw_13_relu/clip_by_value"  # 7x7x1024
    x = torch.from_numpy(faceres_pattern(1)).requires_grad_(True)
    faceres(x)[0].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
