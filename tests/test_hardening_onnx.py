"""ONNX graphs that declare a small input and build huge tensors inside (issue 27, item 8): every
tensor the converted graph would build is sized at load, from shapes alone, and a graph over
the limits is refused in one line before any forward pass; the shape rules agree with real
forward passes on the test graphs and the real age/gender nets."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch.utils._python_dispatch import TorchDispatchMode

from onnx_graphs import every_operator_graph, legacy_opset_graph
from s2w_toolkit import load_backbone
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.weights.graph_plan import cached_plan_path, load_converted
from s2w_toolkit.weights.onnx_graph import OnnxModule, convert_onnx
from s2w_toolkit.weights.onnx_ops import SUPPORTED

node = helper.make_node


def check_sizes(*args, **kwargs):
    """The check under test, imported when called: on a build without it, the tests of what
    ``s2w verify`` and the loaders do still run (and fail by what they do)."""
    from s2w_toolkit.weights.onnx_shapes import check_sizes

    return check_sizes(*args, **kwargs)


# s2w under an address-space limit (first argument, bytes), writing its peak resident set in KiB
# to a file (second argument)
CLI = [sys.executable, "-c", "import sys, resource\n"
       "limit, peak = int(sys.argv.pop(1)), sys.argv.pop(1)\n"
       "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
       "from s2w_toolkit.cli.main import main\n"
       "try:\n    main()\nfinally:\n"
       "    status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())\n"
       "    open(peak, 'w').write(status['VmHWM'].split()[0])"]  # not ru_maxrss: it keeps the forking parent's


def _init(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype), name)


def _model(nodes, inits=(), side=112, opset=13, out="y"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, side, side])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _embedder(*body, inits=(), opset=13):
    """``body`` nodes from ``x`` to ``z``, then a (1, C) embedding: GlobalAveragePool and Flatten."""
    return _model([*body, node("GlobalAveragePool", ["z"], ["g"]), node("Flatten", ["g"], ["y"])], inits, opset=opset)


def _pad_net():
    """The report's net: a 112 px input, a Pad of 5,000 px on each side, an 8-channel Conv."""
    return _embedder(node("Pad", ["x", "pads"], ["p"], name="huge_pad"), node("Conv", ["p", "w"], ["z"], name="conv"),
                     inits=[_init("pads", [0, 0, 5000, 5000, 0, 0, 5000, 5000]),
                            _init("w", np.full((8, 3, 1, 1), 0.1), np.float32)])


def _doubling_net(times=14):
    """Concat nodes that double the channels ``times`` times: 3 * 2**14 channels of 112 x 112."""
    names = ["x"] + [f"d{i}" for i in range(times - 1)] + ["z"]
    return _embedder(*[node("Concat", [a, a], [b], axis=1, name=f"double_{i}")
                       for i, (a, b) in enumerate(zip(names, names[1:]))])


# graph, the node it names, the tensor it names
BLOW_UPS = {
    "pad": (_pad_net(), "'huge_pad' (Pad)", "1x3x10112x10112 float32 tensor (1.1 GiB)"),
    "legacy-pad": (_embedder(node("Pad", ["x"], ["z"], name="old_pad", pads=[0, 0, 5000, 5000, 0, 0, 5000, 5000]),
                             opset=10), "'old_pad' (Pad)", "1x3x10112x10112"),
    "conv-pads": (_embedder(node("Conv", ["x", "w"], ["z"], name="strided", pads=[0, 0, 10000, 10000],
                                 strides=[10000, 10000]), inits=[_init("w", np.ones((8, 3, 1, 1)), np.float32)]),
                  "'strided' (Conv)", "1x3x10112x10112 float32 tensor"),  # a 2x2 output, from a padded copy
    "maxpool-pads": (_embedder(node("MaxPool", ["x"], ["z"], name="pool", kernel_shape=[2, 2],
                                    pads=[0, 0, 10000, 10000], strides=[9000, 9000])),
                     "'pool' (MaxPool)", "1x3x10112x10112"),
    "averagepool-pads": (_embedder(node("AveragePool", ["x"], ["z"], name="avg", kernel_shape=[2, 2],
                                        pads=[10000, 10000, 10000, 10000], strides=[9000, 9000])),
                         "'avg' (AveragePool)", "1x3x20112x20112"),
    "concat-doubling": (_doubling_net(), "'double_11' (Concat)", "1x12288x112x112 float32 tensor (588 MiB)"),
    "matmul-outer": (_embedder(node("Reshape", ["x", "column"], ["c"]), node("Transpose", ["c"], ["r"], perm=[1, 0]),
                               node("MatMul", ["c", "r"], ["m"], name="outer"),
                               node("Reshape", ["m", "map"], ["z"]),
                               inits=[_init("column", [-1, 1]), _init("map", [1, 1, 37632, -1])]),
                     "'outer' (MatMul)", "37632x37632 float32 tensor (5.3 GiB)"),
    "add-broadcast": (_embedder(node("Reshape", ["x", "column"], ["c"]), node("Transpose", ["c"], ["r"], perm=[1, 0]),
                                node("Add", ["c", "r"], ["m"], name="plus"), node("Reshape", ["m", "map"], ["z"]),
                                inits=[_init("column", [-1, 1]), _init("map", [1, 1, 37632, -1])]),
                      "'plus' (Add)", "37632x37632"),
    "gemm-outer": (_embedder(node("Reshape", ["x", "column"], ["c"]),
                             node("Gemm", ["c", "c"], ["m"], name="gemm", transB=1),
                             node("Reshape", ["m", "map"], ["z"]),
                             inits=[_init("column", [-1, 1]), _init("map", [1, 1, 37632, -1])]),
                   "'gemm' (Gemm)", "37632x37632"),
}


@pytest.mark.parametrize("case", BLOW_UPS)
def test_a_tensor_over_the_limit_is_refused_naming_the_node_and_its_size(case):
    model, node_name, tensor = BLOW_UPS[case]
    assert len(model.SerializeToString()) < 1500  # a kilobyte or so of file
    with pytest.raises(CheckpointError) as info:
        check_sizes(convert_onnx(model), (1, 3, 112, 112), f"{case}.onnx")
    message = str(info.value)
    assert message.startswith(f"{case}.onnx: node {node_name} would build a ") and tensor in message
    assert message.endswith("for a 1x3x112x112 input; a converted ONNX graph may build at most 512 MiB per tensor "
                            "(MAX_TENSOR_BYTES)") and "\n" not in message


def test_many_tensors_under_the_limit_alive_at_once_are_refused():
    pads = [0, 0, 3000, 3000, 0, 0, 3000, 3000]  # each padded copy: 1x3x6112x6112, 428 MiB
    copies = [node("Pad", ["x", "pads"], [f"p{i}"], name=f"copy_{i}") for i in range(5)]
    sums = [node("Add", ["p0", "p1"], ["s1"])] + [node("Add", [f"s{i}", f"p{i + 1}"], [f"s{i + 1}"]) for i in (1, 2)]
    sums.append(node("Add", ["s3", "p4"], ["z"]))
    with pytest.raises(CheckpointError, match=r"^live.onnx: after node 'copy_4' \(Pad\) the graph would hold 2.1 GiB "
                                              r"of values at once for a 1x3x112x112 input; .* at most 2 GiB"):
        check_sizes(convert_onnx(_embedder(*copies, *sums, inits=[_init("pads", pads)])), (1, 3, 112, 112),
                    "live.onnx")
    few = _embedder(*copies[:2], node("Add", ["p0", "p1"], ["z"]), inits=[_init("pads", pads)])
    assert check_sizes(convert_onnx(few), (1, 3, 112, 112), "few.onnx")["copy_1"].largest == 3 * 6112 ** 2 * 4


def test_a_size_taken_from_the_input_s_values_is_refused():
    model = _embedder(node("Flatten", ["x"], ["f"]), node("Reshape", ["x", "f"], ["z"], name="shaped_by_pixels"))
    with pytest.raises(CheckpointError, match="node 'shaped_by_pixels' .Reshape. takes its sizes from values computed "
                                              "from the input; only constants may set them"):
        check_sizes(convert_onnx(model), (1, 3, 112, 112), "pixels.onnx")


def test_the_limit_itself_is_allowed():
    """128 float32 channels of a 1024x1024 map is exactly the limit; one row more is not."""
    from s2w_toolkit.weights.onnx_shapes import MAX_TENSOR_BYTES

    conv = node("Conv", ["x", "w"], ["z"], name="wide")
    model = _model([conv, node("GlobalAveragePool", ["z"], ["g"]), node("Flatten", ["g"], ["y"])],
                   [_init("w", np.ones((128, 3, 1, 1)), np.float32)], side=1024)
    assert check_sizes(convert_onnx(model), (1, 3, 1024, 1024), "edge.onnx")["wide"].largest == MAX_TENSOR_BYTES
    with pytest.raises(CheckpointError, match="1x128x1025x1024 float32 tensor"):
        check_sizes(convert_onnx(model), (1, 3, 1025, 1024), "edge.onnx")


@pytest.fixture
def no_forward(monkeypatch):
    """Any forward pass of a converted graph fails the test (and would fail loading on its own)."""
    def forward(self, *inputs):
        raise AssertionError("a forward pass ran")
    monkeypatch.setattr(OnnxModule, "forward", forward)


def test_the_backbone_refuses_at_load_before_any_forward_also_from_the_cache(tmp_path, monkeypatch, no_forward):
    monkeypatch.setenv("S2W_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "pad.onnx"
    onnx.save(_pad_net(), str(path))
    expected = (f"{path}: node 'huge_pad' (Pad) would build a 1x3x10112x10112 float32 tensor (1.1 GiB) for a "
                "1x3x112x112 input; a converted ONNX graph may build at most 512 MiB per tensor (MAX_TENSOR_BYTES)")
    with pytest.raises(CheckpointError) as fresh:
        load_backbone("onnx", weights=str(path), device="cpu")
    assert str(fresh.value) == expected
    assert cached_plan_path(path).is_file()  # the plan was kept: the next load reads it, not the file

    def no_conversion(*args):
        raise AssertionError("converted again instead of read from the cache")
    monkeypatch.setattr("s2w_toolkit.weights.onnx_graph.read_onnx", no_conversion)
    with pytest.raises(CheckpointError) as cached:
        load_backbone("onnx", weights=str(path), device="cpu")
    assert str(cached.value) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads its peak memory from /proc")
def test_s2w_verify_refuses_the_pad_net_in_one_line_without_allocating_it(tmp_path, demo):
    path = tmp_path / "pad.onnx"
    onnx.save(_pad_net(), str(path))
    assert path.stat().st_size < 1500
    # bounded, so that a build without the check fails instead of taking 3 GB and a minute: at
    # most 4 GiB of address space (the padded map and the conv output need 4.4 GB more), one thread
    env = {**os.environ, "S2W_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    peak = tmp_path / "peak"
    result = subprocess.run([*CLI, str(4 * 2**30), str(peak), "verify", "--backbone", "onnx", "--weights", str(path),
                             str(demo["obama"]), str(demo["biden"])], env=env, capture_output=True, text=True,
                            timeout=600)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr[-2000:]
    assert str(path) in lines[0] and "node 'huge_pad' (Pad) would build a 1x3x10112x10112 float32 tensor" in lines[0]
    assert int(peak.read_text()) < 2**20  # peak resident set, in KiB: under 1 GiB, so 1.1 GiB was never built


def test_the_age_gender_nets_are_checked_at_load(tmp_path, no_forward):
    from s2w_toolkit.attributes.age_gender import AgeGender
    from s2w_toolkit.weights.packaged import age_gender_folder

    folder = tmp_path / "models"
    shutil.copytree(age_gender_folder(), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    gender = folder / manifest["models"]["gender"]["artifact"]["filename"]
    gender.unlink()
    onnx.save(_pad_net(), str(gender))
    with pytest.raises(CheckpointError, match=f"^{gender}: node 'huge_pad' .Pad. would build a 1x3x10032x10032 "):
        AgeGender.load(str(folder))  # its manifest feeds the gender net 32 px chips


def test_every_operator_has_a_shape_rule():
    from s2w_toolkit.weights.onnx_shape_rules import RULES

    assert set(RULES) == set(SUPPORTED) - {"Constant"}


class _Allocations(TorchDispatchMode):
    """The largest tensor each ATen call allocates (views allocate nothing), per node."""

    def __init__(self):
        super().__init__()
        self.current, self.per_node = 0, {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view:
            for tensor in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(tensor, torch.Tensor):
                    self.current = max(self.current, tensor.untyped_storage().nbytes())
        return out


def _agrees_with_a_forward_pass(module, shape):
    """The rules give each node's real output shape, and at least the bytes of what it builds."""
    sizes = check_sizes(module, shape, "model")
    spy = _Allocations()
    hooks = []
    for key, op in module.nodes.items():
        hooks.append(op.register_forward_pre_hook(lambda *a: setattr(spy, "current", 0)))
        hooks.append(op.register_forward_hook(lambda m, i, o, key=key: spy.per_node.__setitem__(key, spy.current)))
    try:
        with spy, torch.no_grad():
            real = module.output_shapes(shape)
    finally:
        for hook in hooks:
            hook.remove()
    assert {k: s.shape for k, s in sizes.items()} == real
    assert {k: b for k, b in spy.per_node.items() if b > sizes[k].largest} == {}


@pytest.mark.parametrize("model, shape", [(every_operator_graph(112), (1, 3, 112, 112)),
                                          (every_operator_graph(37, seed=1), (1, 3, 37, 37)),
                                          (legacy_opset_graph(16), (1, 3, 16, 16))],
                         ids=["every-operator-112", "every-operator-37", "legacy-opset"])
def test_the_rules_agree_with_forward_passes_of_the_test_graphs(model, shape):
    _agrees_with_a_forward_pass(convert_onnx(model), shape)


@pytest.mark.parametrize("task", ["gender", "age"])
def test_the_rules_agree_with_the_real_age_gender_nets(task):
    from s2w_toolkit.weights.packaged import age_gender_folder

    folder = age_gender_folder()
    spec = json.loads((folder / "manifest.json").read_text())["models"][task]
    side = int(spec["input"]["shape"][-1])
    _agrees_with_a_forward_pass(load_converted(folder / spec["artifact"]["filename"]), (1, 3, side, side))


def _one_node(op, attrs, *, inputs=(), inits=(), side=9, opset=18):
    return _model([node(op, ["x", *inputs], ["y"], name="n", **attrs)], inits, side=side, opset=opset)


f32 = np.float32
SWEEP = [
    ("Conv", {"pads": [1, 0, 2, 3], "strides": [2, 3]}, ["w"], [_init("w", np.ones((4, 3, 3, 2)), f32)]),
    ("Conv", {"dilations": [2, 3], "pads": [2, 2, 2, 2]}, ["w", "b"],
     [_init("w", np.ones((4, 3, 3, 3)), f32), _init("b", np.ones(4), f32)]),
    ("Conv", {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, ["w"], [_init("w", np.ones((6, 3, 4, 4)), f32)]),
    ("Conv", {"auto_pad": "VALID", "group": 3}, ["w"], [_init("w", np.ones((6, 1, 2, 2)), f32)]),
    ("MaxPool", {"kernel_shape": [3, 2], "strides": [2, 2], "ceil_mode": 1, "pads": [1, 1, 1, 0]}, [], []),
    ("MaxPool", {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]}, [], []),
    ("MaxPool", {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [4, 4]}, [], []),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [3, 3], "ceil_mode": 1, "count_include_pad": 1}, [], []),
    ("AveragePool", {"kernel_shape": [4, 2], "strides": [2, 1]}, [], []),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [0, 2, 1, 0]}, [], []),
    ("Pad", {"mode": "constant"}, ["pads"], [_init("pads", [0, 1, -2, 3, 0, 2, -1, 0])]),  # negative pads crop
    ("Pad", {"mode": "wrap"}, ["pads", "", "axes"], [_init("pads", [2, 3, 1, 0]), _init("axes", [-1, 2])]),
    ("Pad", {"mode": "reflect"}, ["pads"], [_init("pads", [0, 0, 2, 1, 0, 0, 1, 2])]),
    ("MatMul", {}, ["m"], [_init("m", np.ones((2, 1, 9, 5)), f32)]),
    ("MatMul", {}, ["v"], [_init("v", np.ones(9), f32)]),
    ("MatMul", {}, ["m"], [_init("m", np.ones((9, 5)), f32)]),
    ("MatMul", {}, ["m"], [_init("m", np.ones((1, 3, 9, 4)), f32)]),
    ("Concat", {"axis": -2}, ["c"], [_init("c", np.ones((1, 3, 4, 9)), f32)]),
    ("Flatten", {"axis": 0}, [], []),
    ("Flatten", {"axis": -1}, [], []),
    ("Transpose", {}, [], []),
    ("Reshape", {}, ["s"], [_init("s", [0, -1, 3])]),
    ("Reshape", {"allowzero": 1}, ["s"], [_init("s", [3, 27, 3])]),
    ("Softmax", {"axis": 2}, [], []),
    ("PRelu", {}, ["slope"], [_init("slope", np.full((3, 1, 1), 0.2), f32)]),
    ("Add", {}, ["col"], [_init("col", np.ones((5, 1, 1, 1)), f32)]),
    ("Div", {}, ["two"], [_init("two", 2.0, f32)]),
    ("BatchNormalization", {}, ["s", "b", "m", "v"], [_init(n, np.ones(3), f32) for n in "sbmv"]),
]


@pytest.mark.parametrize("op, attrs, inputs, inits", SWEEP, ids=[f"{c[0]}-{i}" for i, c in enumerate(SWEEP)])
def test_the_rules_agree_with_forward_passes_of_awkward_attributes(op, attrs, inputs, inits):
    _agrees_with_a_forward_pass(convert_onnx(_one_node(op, attrs, inputs=inputs, inits=inits)), (1, 3, 9, 9))
    if op in ("Softmax", "Pad"):
        legacy = {"pads": [0, 0, 1, 2, 0, 0, 3, 0]} if op == "Pad" else {}
        _agrees_with_a_forward_pass(convert_onnx(_one_node(op, legacy, opset=10)), (1, 3, 9, 9))


def test_gemm_rules_agree_with_a_forward_pass():
    body = [node("Flatten", ["x"], ["f"]), node("Gemm", ["f", "w", "c"], ["y"], name="n", transB=1, alpha=2.0)]
    model = _model(body, [_init("w", np.ones((7, 243)), f32), _init("c", np.ones((1, 7)), f32)])
    _agrees_with_a_forward_pass(convert_onnx(model), (1, 3, 9, 9))
    transposed = _model([node("Reshape", ["x", "s"], ["r"]), node("Gemm", ["r", "w"], ["y"], name="n", transA=1)],
                        [_init("s", [27, 9]), _init("w", np.ones((27, 4)), f32)])
    _agrees_with_a_forward_pass(convert_onnx(transposed), (1, 3, 9, 9))
