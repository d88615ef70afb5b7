"""The TFLite converter: small graphs written here with the ``tflite`` schema builders, run by our
module and by LiteRT (the reference), gradients to the input, and refused files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

pytest.importorskip("tflite")

from s2w_toolkit.errors import CheckpointError  # noqa: E402
from s2w_toolkit.weights.tflite_build import build_tflite  # noqa: E402
from s2w_toolkit.weights.tflite_graph import convert_tflite  # noqa: E402

RNG = np.random.default_rng(0)
F32 = "float32"


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def litert(data: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    interpreter = pytest.importorskip("ai_edge_litert.interpreter")
    interp = interpreter.Interpreter(model_content=data)
    interp.allocate_tensors()
    for detail, x in zip(interp.get_input_details(), xs):
        interp.set_tensor(detail["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]


def check(tensors, ops, inputs, outputs, xs, atol=1e-5):
    """Our module equals LiteRT on ``xs`` and passes gradients to every float input."""
    data = build_tflite(tensors, ops, inputs, outputs)
    net = convert_tflite(data)
    ts = [torch.from_numpy(x.copy()).requires_grad_(True) for x in xs]
    ours = net(*ts)
    ours = ours if isinstance(ours, tuple) else (ours,)
    for o, ref in zip(ours, litert(data, xs)):
        assert tuple(o.shape) == ref.shape
        np.testing.assert_allclose(o.detach().numpy(), ref, atol=atol, rtol=0)
    sum(o.sum() for o in ours).backward()
    for t in ts:
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    return net


@pytest.mark.parametrize("padding,stride,size,dilation", [
    (0, 1, 7, 1), (0, 2, 7, 1), (0, 2, 8, 1), (1, 1, 7, 1), (1, 2, 8, 1), (0, 1, 9, 2)])
def test_conv2d_bias_relu(padding, stride, size, dilation):
    w, b = rand(4, 3, 3, 3), rand(4)
    out = -(-size // stride) if padding == 0 else (size - 2 * dilation - 1) // stride + 1
    check([("x", (1, size, size, 3), F32), ("w", w.shape, w), ("b", b.shape, b), ("y", (1, out, out, 4), F32)],
          [("CONV_2D", [0, 1, 2], [3], {"Padding": padding, "StrideH": stride, "StrideW": stride,
                                         "DilationHFactor": dilation, "DilationWFactor": dilation,
                                         "FusedActivationFunction": 1})],
          [0], [3], [rand(1, size, size, 3)])


@pytest.mark.parametrize("padding,stride,mult", [(0, 1, 1), (0, 2, 1), (1, 1, 2), (0, 2, 2)])
def test_depthwise_conv(padding, stride, mult):
    w, b = rand(1, 3, 3, 3 * mult), rand(3 * mult)
    out = -(-9 // stride) if padding == 0 else (9 - 3) // stride + 1
    check([("x", (1, 9, 9, 3), F32), ("w", w.shape, w), ("b", b.shape, b), ("y", (1, out, out, 3 * mult), F32)],
          [("DEPTHWISE_CONV_2D", [0, 1, 2], [3], {"Padding": padding, "StrideH": stride, "StrideW": stride,
                                                   "DepthMultiplier": mult, "FusedActivationFunction": 3})],
          [0], [3], [rand(1, 9, 9, 3, scale=3.0)])


def test_float16_dequantize_weights():
    w16, b = rand(2, 1, 1, 3).astype(np.float16), rand(2)
    net = check([("x", (1, 4, 5, 3), F32), ("w16", w16.shape, w16), ("w", w16.shape, F32), ("b", (2,), b),
                 ("y", (1, 4, 5, 2), F32)],
                [("DEQUANTIZE", [1], [2], {}), ("CONV_2D", [0, 2, 3], [4], {"Padding": 1, "StrideH": 1, "StrideW": 1})],
                [0], [4], [rand(1, 4, 5, 3)])
    assert net.ops["CONV_2D_1"].weight.dtype == torch.float32


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE"])
def test_binary_broadcasting(op):
    c = rand(5) + (3.0 if op == "DIV" else 0.0)
    check([("x", (1, 3, 4, 5), F32), ("c", (5,), c), ("u", (1, 3, 4, 5), F32),
           ("z", (4, 1), F32), ("y", (1, 3, 4, 5), F32)],
          [(op, [0, 1], [2], {"FusedActivationFunction": 1} if op in ("ADD", "MUL") else {}),
           (op, [2, 3], [4], {})],
          [0, 3], [4], [rand(1, 3, 4, 5), rand(4, 1) + 3.0])


@pytest.mark.parametrize("op", ["LOGISTIC", "RELU", "SQRT", "RSQRT", "NEG"])
def test_unary(op):
    x = rand(1, 2, 3, 4) + (5.0 if op in ("SQRT", "RSQRT") else 0.0)
    check([("x", (1, 2, 3, 4), F32), ("y", (1, 2, 3, 4), F32)], [(op, [0], [1], {})], [0], [1], [x])


@pytest.mark.parametrize("alpha_shape", [(1, 1, 4), (4,), (3, 5, 4)])
def test_prelu(alpha_shape):
    alpha = rand(*alpha_shape)
    check([("x", (1, 3, 5, 4), F32), ("a", alpha_shape, alpha), ("y", (1, 3, 5, 4), F32)],
          [("PRELU", [0, 1], [2], {})], [0], [2], [rand(1, 3, 5, 4)])


def test_reshape_both_ways():
    s1, s2 = np.array([1, 24], np.int32), np.array([1, 2, 4, 3], np.int32)
    check([("x", (1, 2, 3, 4), F32), ("s1", (2,), s1), ("f", (1, 24), F32), ("s2", (4,), s2),
           ("y", (1, 2, 4, 3), F32)],
          [("RESHAPE", [0, 1], [2], {}), ("RESHAPE", [2, 3], [4], {})], [0], [4], [rand(1, 2, 3, 4)])


@pytest.mark.parametrize("axis", [3, -1, 1, 2])
def test_concatenation(axis):
    a, b = [1, 3, 4, 2], [1, 3, 4, 2]
    b[axis] = 5
    out = list(a)
    out[axis] += 5
    check([("a", tuple(a), F32), ("b", tuple(b), F32), ("y", tuple(out), F32)],
          [("CONCATENATION", [0, 1], [2], {"Axis": axis})], [0, 1], [2], [rand(*a), rand(*b)])


@pytest.mark.parametrize("op,axes,keep", [("MEAN", [1, 2], True), ("MEAN", [1, 2], False), ("SUM", [3], True),
                                          ("MEAN", [-1], False), ("SUM", [0, 3], False)])
def test_reductions(op, axes, keep):
    shape = [1, 3, 4, 5]
    out = [1 if i in [a % 4 for a in axes] else d for i, d in enumerate(shape)]
    out = out if keep else [d for i, d in enumerate(shape) if i not in [a % 4 for a in axes]]
    ax = np.array(axes, np.int32)
    check([("x", tuple(shape), F32), ("a", ax.shape, ax), ("y", tuple(out), F32)],
          [(op, [0, 1], [2], {"KeepDims": keep})], [0], [2], [rand(*shape)])


def test_mean_of_rank3_and_layer_norm_chain():
    """The blendshape model's normalisation: MEAN, SUB, MUL, SUM, SQRT, DIV on a rank-3 value."""
    a1, a2 = np.array(1, np.int32), np.array([2], np.int32)
    check([("x", (1, 6, 2), F32), ("a1", (), a1), ("m", (1, 1, 2), F32), ("d", (1, 6, 2), F32),
           ("sq", (1, 6, 2), F32), ("a2", (1,), a2), ("s", (1, 6, 1), F32), ("r", (1, 6, 1), F32),
           ("y", (1, 6, 2), F32)],
          [("MEAN", [0, 1], [2], {"KeepDims": True}), ("SUB", [0, 2], [3], {}), ("MUL", [3, 3], [4], {}),
           ("SUM", [4, 5], [6], {"KeepDims": True}), ("SQRT", [6], [7], {}), ("DIV", [3, 7], [8], {})],
          [0], [8], [rand(1, 6, 2)])


def test_transpose_and_pad():
    perm = np.array([0, 1, 3, 2], np.int32)
    pads = np.array([[0, 0], [1, 2], [0, 1], [0, 3]], np.int32)
    check([("x", (1, 2, 5, 3), F32), ("p", (4,), perm), ("t", (1, 2, 3, 5), F32), ("q", (4, 2), pads),
           ("y", (1, 5, 4, 8), F32)],
          [("TRANSPOSE", [0, 1], [2], {}), ("PAD", [2, 3], [4], {})], [0], [4], [rand(1, 2, 5, 3)])


@pytest.mark.parametrize("padding,size", [(0, 7), (1, 7), (0, 8)])
def test_max_pool(padding, size):
    out = -(-size // 2) if padding == 0 else (size - 2) // 2 + 1
    check([("x", (1, size, size, 3), F32), ("y", (1, out, out, 3), F32)],
          [("MAX_POOL_2D", [0], [1], {"Padding": padding, "StrideH": 2, "StrideW": 2, "FilterHeight": 2,
                                      "FilterWidth": 2})], [0], [1], [rand(1, size, size, 3) - 5.0])


@pytest.mark.parametrize("begin,end,strides,masks,out", [
    ([0, 1, 0, 0], [1, 3, 5, 4], [1, 1, 2, 1], {}, (1, 2, 3, 4)),
    ([0, 0, 1, 1], [0, 0, 4, 3], [1, 1, 1, 2], {"BeginMask": 3, "EndMask": 3}, (1, 4, 3, 1)),
    ([0, 2, 0, 0], [1, 3, 5, 4], [1, 1, 1, 1], {"ShrinkAxisMask": 2}, (1, 5, 4)),
    ([0, -2, 0, 1], [1, 0, 5, 3], [1, 1, 1, 1], {"EndMask": 2}, (1, 2, 5, 2))])
def test_strided_slice(begin, end, strides, masks, out):
    b, e, s = (np.array(v, np.int32) for v in (begin, end, strides))
    check([("x", (1, 4, 5, 4), F32), ("b", (4,), b), ("e", (4,), e), ("s", (4,), s), ("y", out, F32)],
          [("STRIDED_SLICE", [0, 1, 2, 3], [4], masks)], [0], [4], [rand(1, 4, 5, 4)])


def test_strided_slice_rank2_shrink():
    b, e, s = np.array([0, 0], np.int32), np.array([1, 7], np.int32), np.array([1, 1], np.int32)
    check([("x", (1, 7), F32), ("b", (2,), b), ("e", (2,), e), ("s", (2,), s), ("y", (7,), F32)],
          [("STRIDED_SLICE", [0, 1, 2, 3], [4], {"ShrinkAxisMask": 1})], [0], [4], [rand(1, 7)])


def test_squeeze_expand_dims_reduce_max_padv2():
    axis, axes = np.array(1, np.int32), np.array([2], np.int32)
    pads, value = np.array([[0, 0], [0, 0], [1, 0], [0, 2]], np.int32), np.array(-1.5, np.float32)
    check([("x", (2, 1, 5, 3), F32), ("q", (2, 5, 3), F32), ("ax", (), axis), ("e", (2, 1, 5, 3), F32),
           ("p", (4, 2), pads), ("v", (), value), ("pp", (2, 1, 6, 5), F32), ("a", (1,), axes),
           ("y", (2, 1, 1, 5), F32), ("t", (2, 1, 1, 5), F32)],
          [("SQUEEZE", [0], [1], {}), ("EXPAND_DIMS", [1, 2], [3], {}), ("PADV2", [3, 4, 5], [6], {}),
           ("REDUCE_MAX", [6, 7], [8], {"KeepDims": True}), ("TANH", [8], [9], {})],
          [0], [9], [rand(2, 1, 5, 3)])


def test_batch_larger_than_declared_runs_the_trunk():
    w = rand(2, 3, 3, 3)
    net = convert_tflite(build_tflite(
        [("x", (1, 6, 6, 3), F32), ("w", w.shape, w), ("y", (1, 6, 6, 2), F32)],
        [("CONV_2D", [0, 1], [2], {"Padding": 0, "StrideH": 1, "StrideW": 1})], [0], [2]))
    x = torch.from_numpy(rand(3, 6, 6, 3))
    torch.testing.assert_close(net(x)[1:2], net(x[1:2]))


def test_supported_list_is_what_is_registered():
    from s2w_toolkit.weights.tflite_ops import SUPPORTED, TFLiteOp

    assert SUPPORTED == set(TFLiteOp._types)


# --- refused files ---------------------------------------------------------------------------

def small_model() -> bytes:
    w = rand(4, 3, 3, 3)
    return build_tflite([("x", (1, 8, 8, 3), F32), ("w", w.shape, w), ("y", (1, 8, 8, 4), F32)],
                        [("CONV_2D", [0, 1], [2], {"Padding": 0, "StrideH": 1, "StrideW": 1})], [0], [2])


def test_random_bytes_refused():
    with pytest.raises(CheckpointError, match="not a TFLite model"):
        convert_tflite(RNG.bytes(4096))
    with pytest.raises(CheckpointError, match="not a TFLite model"):
        convert_tflite(b"")


def test_random_bytes_with_identifier_refused():
    for seed in range(20):
        data = bytearray(np.random.default_rng(seed).bytes(2048))
        data[4:8] = b"TFL3"
        with pytest.raises(CheckpointError) as info:
            convert_tflite(bytes(data))
        assert "\n" not in str(info.value)


def test_truncated_file_refused():
    data = small_model()  # its last 16 bytes are alignment padding, read by nothing: cut into the weights
    for cut in (8, 40, len(data) // 3, len(data) // 2, len(data) - 64, len(data) - 17):
        with pytest.raises(CheckpointError, match="TFLite"):
            convert_tflite(data[:cut])


def test_corrupted_bytes_refused_in_one_line_or_converted():
    """Flipped bytes anywhere give a converted module or a one-line CheckpointError, nothing else."""
    data, rng = small_model(), np.random.default_rng(3)
    for _ in range(400):
        bad = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            bad[rng.integers(8, len(bad))] = rng.integers(0, 256)
        try:
            convert_tflite(bytes(bad))
        except CheckpointError as exc:
            assert "\n" not in str(exc)


def test_unsupported_operator_named():
    data = build_tflite([("x", (1, 4), F32), ("y", (1, 4), F32)], [("FLOOR", [0], [1], {})], [0], [1])
    with pytest.raises(CheckpointError, match="unsupported TFLite operator FLOOR"):
        convert_tflite(data)


def test_unsupported_option_named():
    b, e, s = np.array([0, 0], np.int32), np.array([1, 4], np.int32), np.array([1, -1], np.int32)
    data = build_tflite([("x", (1, 4), F32), ("b", (2,), b), ("e", (2,), e), ("s", (2,), s), ("y", (1, 4), F32)],
                        [("STRIDED_SLICE", [0, 1, 2, 3], [4], {})], [0], [4])
    with pytest.raises(CheckpointError, match="STRIDED_SLICE with a stride below 1"):
        convert_tflite(data)


def test_absurd_tensor_refused_before_allocating():
    data = build_tflite([("x", (1, 4), F32), ("huge", (1 << 20, 1 << 20), F32)], [("RELU", [0], [1], {})], [0], [1])
    with pytest.raises(CheckpointError, match="'huge' declares shape .*MAX_TENSOR_BYTES"):
        convert_tflite(data)


def test_path_and_missing_file(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(small_model())
    assert convert_tflite(path)(torch.zeros(1, 8, 8, 3)).shape == (1, 8, 8, 4)
    with pytest.raises(CheckpointError, match="no such TFLite file"):
        convert_tflite(tmp_path / "absent.tflite")


def test_mediapipe_face_models_match_litert():
    from s2w_toolkit.weights.registry_files import registry_file

    try:
        bundle = registry_file("face_landmarker.task")
    except CheckpointError as exc:
        pytest.skip(str(exc))
    with zipfile.ZipFile(bundle) as task:
        mesh, blend = task.read("face_landmarks_detector.tflite"), task.read("face_blendshapes.tflite")
    x = RNG.random((1, 256, 256, 3), dtype=np.float32)
    net = convert_tflite(mesh)
    ours, ref = net(torch.from_numpy(x)), litert(mesh, [x])
    assert np.abs(ours[0].detach().numpy() - ref[0]).max() < 1e-3  # landmarks, px
    assert np.abs(ours[1].detach().numpy() - ref[1]).max() < 1e-4
    points = ref[0].reshape(478, 3)[:438:3, :2][None].copy()
    np.testing.assert_allclose(convert_tflite(blend)(torch.from_numpy(points)).detach().numpy(),
                               litert(blend, [points])[0], atol=1e-4, rtol=0)


def test_a_tflite_file_is_recognised_by_its_magic_bytes(tmp_path):
    from s2w_toolkit.weights.formats import TFLITE, sniff_format

    data = build_tflite([("x", (1, 4), F32), ("y", (1, 4), F32)], [("RELU", [0], [1], {})], [0], [1])
    path = tmp_path / "relu.tflite"
    path.write_bytes(data)
    assert sniff_format(path) == TFLITE
    path.write_bytes(data[:4] + b"XXXX" + data[8:])
    assert sniff_format(path) != TFLITE


def test_a_model_read_again_is_not_parsed_again_and_each_caller_gets_its_own_arrays(monkeypatch):
    from s2w_toolkit.weights import tflite_graph

    w = rand(2, 1, 1, 3)
    data = build_tflite([("x", (1, 4, 5, 3), F32), ("w", w.shape, w), ("y", (1, 4, 5, 2), F32)],
                        [("CONV_2D", [0, 1, -1], [2], {"Padding": 1, "StrideH": 1, "StrideW": 1})], [0], [2])
    first = tflite_graph.read_tflite(data)
    parsed = []
    monkeypatch.setattr(tflite_graph, "_read", lambda *a: parsed.append(a) or pytest.fail("parsed again"))
    second = tflite_graph.read_tflite(data)
    assert not parsed and second["ops"] == first["ops"]
    first["tensors"][1][3][...] = 0  # one caller's arrays changed: the next one's are untouched
    np.testing.assert_array_equal(tflite_graph.read_tflite(data)["tensors"][1][3], w)
    monkeypatch.undo()
    for _ in range(2):  # a bad file is refused each time, never remembered as good
        with pytest.raises(CheckpointError, match="not a readable TFLite model"):
            tflite_graph.read_tflite(data[:-40])
