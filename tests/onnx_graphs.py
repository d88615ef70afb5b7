"""Hand-built ONNX graphs for the converter tests (not a test module itself)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def every_operator_graph(size: int = 112, seed: int = 0) -> onnx.ModelProto:
    """One opset-18 graph that uses every supported operator, with awkward attributes
    (asymmetric pads, ceil_mode, SAME padding, groups, pads on chosen axes, reflect and edge
    modes, Reshape with 0 and -1). Input ``x`` (N, 3, size, size); output (N, 24)."""
    rng = np.random.default_rng(seed)
    f32 = lambda *shape, s=0.3: (rng.standard_normal(shape) * s).astype(np.float32)  # noqa: E731
    # spatial sizes: conv 2x -> s1; reflect pad +1 -> s1 + 1; max-pool (ceil) -> s2; avg-pool (ceil) -> s3
    s1 = (size + 2 - 3) // 2 + 1
    s2 = -(-(s1 + 1 + 1 - 3) // 2) + 1
    s3 = -(-(s2 + 2 - 3) // 2) + 1
    hw = (s3 + 2) ** 2
    inits = [
        _init("w1", f32(8, 3, 3, 3)), _init("b1", f32(8)),
        _init("bn_scale", rng.uniform(0.5, 1.5, 8).astype(np.float32)), _init("bn_bias", f32(8)),
        _init("bn_mean", f32(8, s=0.1)), _init("bn_var", rng.uniform(0.5, 1.5, 8).astype(np.float32)),
        _init("slope", rng.uniform(0.05, 0.3, (8, 1, 1)).astype(np.float32)),
        _init("pads_reflect", np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64)),
        _init("pads_edge", np.array([1, 1, 1, 1], np.int64)), _init("edge_axes", np.array([2, 3], np.int64)),
        _init("w2", f32(8, 4, 3, 3)),
        _init("tokens_shape", np.array([0, -1, 8], np.int64)), _init("flat_shape", np.array([0, -1], np.int64)),
        _init("proj", f32(8, 4)), _init("wg", f32(16, hw * 4, s=0.05)), _init("bg", f32(16)),
    ]
    node = helper.make_node
    nodes = [
        node("Constant", [], ["mean"], value=numpy_helper.from_array(f32(1, 3, 1, 1, s=0.1))),
        node("Constant", [], ["scale"], value_float=1.5),
        node("Constant", [], ["three"], value_floats=[3.0]),
        node("Sub", ["x", "mean"], ["x1"]),
        node("Mul", ["x1", "scale"], ["x2"]),
        node("Conv", ["x2", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1], name="stem"),
        node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn1"], epsilon=1e-3),
        node("PRelu", ["bn1", "slope"], ["p1"]),
        node("Pad", ["p1", "pads_reflect"], ["pd"], mode="reflect"),
        node("MaxPool", ["pd"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1),
        node("Conv", ["mp", "w2"], ["c2"], auto_pad="SAME_UPPER", group=2),
        node("LeakyRelu", ["c2"], ["l2"], alpha=0.2),
        node("Add", ["l2", "mp"], ["a2"], name="block"),
        node("AveragePool", ["a2"], ["ap"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             ceil_mode=1, count_include_pad=0),
        node("Relu", ["ap"], ["r"]),
        node("Pad", ["r", "pads_edge", "", "edge_axes"], ["pe"], mode="edge"),
        node("Sigmoid", ["pe"], ["sg"]),
        node("Mul", ["pe", "sg"], ["sw"], name="last_map"),
        node("GlobalAveragePool", ["sw"], ["g"]),
        node("Flatten", ["g"], ["f"], axis=1),
        node("Transpose", ["sw"], ["tr"], perm=[0, 2, 3, 1]),
        node("Reshape", ["tr", "tokens_shape"], ["tokens"]),
        node("MatMul", ["tokens", "proj"], ["mm"]),
        node("Softmax", ["mm"], ["sm"], axis=1),
        node("Reshape", ["sm", "flat_shape"], ["flat"]),
        node("Gemm", ["flat", "wg", "bg"], ["gm"], transB=1, alpha=0.5, beta=2.0),
        node("Div", ["gm", "three"], ["dv"]),
        node("Concat", ["f", "dv"], ["cat"], axis=1),
        node("Identity", ["cat"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes, "every_operator",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 24])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def legacy_opset_graph(size: int = 16) -> onnx.ModelProto:
    """Opset 10: Pad takes its pads and value as attributes, and Softmax coerces its input to
    2-D at ``axis`` (default 1), so it normalises over C*H*W together."""
    node = helper.make_node
    nodes = [
        node("Pad", ["x"], ["p"], pads=[0, 0, 2, 1, 0, 0, 1, 2], mode="constant", value=0.5),
        node("MaxPool", ["p"], ["m"], kernel_shape=[2, 2], auto_pad="SAME_LOWER", strides=[2, 2]),
        node("Softmax", ["m"], ["y"]),
    ]
    out = (size + 3 + 1) // 2
    graph = helper.make_graph(
        nodes, "legacy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, out, out])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 5
    onnx.checker.check_model(model)
    return model
