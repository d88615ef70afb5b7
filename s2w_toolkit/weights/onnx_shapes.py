"""The size of every tensor a converted ONNX graph would build, found before any is built.

A file of a kilobyte can declare a small input and still ask for gigabytes inside: a ``Pad`` of
5,000 px, a ``Conv`` or pool with huge ``pads`` (the padded copy is made inside the operator
even when a large stride makes its output small), ``Concat`` nodes that double a tensor again
and again, a ``MatMul`` or broadcasting ``Add`` of a column by a row. :func:`check_sizes`
walks the converted module's nodes in the order its forward pass runs them, with the shape
rules of :mod:`~s2w_toolkit.weights.onnx_shape_rules` in place of the operators, so no tensor
is made from the input; nodes that read only constants (a ``Reshape``'s target, a ``Pad``'s
pads) run for real, once their sizes are known to be small. A tensor larger than
:data:`MAX_TENSOR_BYTES`, or more than :data:`MAX_LIVE_BYTES` of values alive at once (as the
forward pass frees them), is refused with a one-line :class:`~s2w_toolkit.errors.CheckpointError`
naming the file, the node and the size. The limits are for one image.

The check runs on the module, so it holds however the module was made: converted from the
file or rebuilt from the cached plan (:func:`~s2w_toolkit.weights.graph_plan.load_converted`).
It imports nothing and costs milliseconds: about 1 ms for the 59 nodes of the age net of
:mod:`~s2w_toolkit.attributes.age_gender`, 35 ms for the 600 of an IResNet-100 (whose zero
forward pass, run at load anyway, takes seconds).

Example:
    >>> from onnx import helper, TensorProto
    >>> from s2w_toolkit.weights.onnx_graph import convert_onnx
    >>> pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 5000, 5000, 0, 0, 5000, 5000])
    >>> graph = helper.make_graph([helper.make_node("Pad", ["x", "pads"], ["y"], name="big")], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 112, 112])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[pads])
    >>> try:
    ...     check_sizes(convert_onnx(helper.make_model(graph)), (1, 3, 112, 112), "pad.onnx")
    ... except CheckpointError as exc:
    ...     print(exc)
    pad.onnx: node 'big' (Pad) would build a 1x3x10112x10112 float32 tensor (1.1 GiB) for a 1x3x112x112 input; ...
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from ..errors import CheckpointError
from .onnx_shape_rules import RULES, SIZING_INPUTS, Abstract

if TYPE_CHECKING:
    from .onnx_graph import OnnxModule

#: The largest tensor a converted graph may build for one image: 128 float32 channels of a
#: 1024x1024 map (1024 px being the largest input the onnx backbone takes).
MAX_TENSOR_BYTES = 512 * 2**20
#: The most bytes of intermediate values a forward pass for one image may hold at once.
MAX_LIVE_BYTES = 4 * MAX_TENSOR_BYTES


class NodeSize(NamedTuple):
    """One node's output ``shape`` and ``dtype``, and ``largest``: the bytes of the largest
    tensor it builds (its output, or a copy made inside it).

    Example:
        >>> NodeSize((1, 8), torch.float32, 32).largest
        32
    """

    shape: tuple[int, ...]
    dtype: torch.dtype
    largest: int


def _bytes(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _shape(shape: Any) -> str:
    return "x".join(str(int(d)) for d in shape) or "scalar"


def _nbytes(value: Any) -> int:
    return value.nbytes if isinstance(value, (Abstract, torch.Tensor)) else 0


def check_sizes(module: OnnxModule, input_shape: tuple[int, ...], source: str, *,
                max_tensor_bytes: int = MAX_TENSOR_BYTES,
                max_live_bytes: int = MAX_LIVE_BYTES) -> dict[str, NodeSize]:
    """Each node's :class:`NodeSize` for a float32 input of ``input_shape`` (see the module
    docs), by module key; a one-line :class:`CheckpointError` naming ``source`` and the node
    when a tensor, or the values alive at once, would pass the limits, when a size depends on
    the input's values rather than on constants, or when a node cannot run on that input.

    Example:
        >>> from onnx import helper, TensorProto
        >>> from s2w_toolkit.weights.onnx_graph import convert_onnx
        >>> graph = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["y"], axis=1, name="cat")], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        >>> check_sizes(convert_onnx(helper.make_model(graph)), (1, 3, 8, 8), "cat.onnx")
        {'cat': NodeSize(shape=(1, 6, 8, 8), dtype=torch.float32, largest=1536)}
    """
    given = _shape(input_shape)
    constants: dict[str, Any] = {"": None}
    for name, (holder, key) in module._lookup.items():  # noqa: SLF001 - read as forward reads it
        constants[name] = (module.weights[key] if holder == "weights" else getattr(module.constants, key)).detach()
    values: dict[str, Any] = {name: Abstract(input_shape) for name in module.input_names}  # alive, as in forward
    sizes: dict[str, NodeSize] = {}
    with torch.no_grad():
        for (key, names, output), dead in zip(module._wiring, module._release):  # noqa: SLF001
            op = module.nodes[key]
            label = f"node {key!r} ({op.op_type})"
            args = [values[n] if n in values else constants[n] for n in names]
            if any(isinstance(args[i], Abstract) for i in SIZING_INPUTS.get(op.op_type, ()) if i < len(args)):
                raise CheckpointError(f"{source}: {label} takes its sizes from values computed from the input; "
                                      "only constants may set them")
            try:
                if op.op_type not in RULES:
                    raise NotImplementedError("no shape rule for this operator")
                shape, dtype, built = RULES[op.op_type](op, args)
                if any(d < 0 for s in [shape, *(b[0] for b in built)] for d in s):
                    raise ValueError(f"a negative size in {tuple(shape)}")
            except Exception as exc:  # noqa: BLE001 - a graph that cannot be sized is the file's fault
                detail = " ".join(str(exc).split())[:200]
                raise CheckpointError(f"{source}: {label} cannot run on a {given} input: "
                                      f"{type(exc).__name__}: {detail}") from None
            largest = max([(shape, dtype), *built], key=lambda b: math.prod(b[0]) * b[1].itemsize)
            size = math.prod(largest[0]) * largest[1].itemsize
            if size > max_tensor_bytes:
                raise CheckpointError(
                    f"{source}: {label} would build a {_shape(largest[0])} {str(largest[1]).removeprefix('torch.')} "
                    f"tensor ({_bytes(size)}) for a {given} input; a converted ONNX graph may build at most "
                    f"{_bytes(max_tensor_bytes)} per tensor (MAX_TENSOR_BYTES)")
            if names and not any(isinstance(a, Abstract) for a in args):
                values[output] = _run(op, args, f"{source}: {label}")  # constants only, and small: run it
            else:
                values[output] = args[0] if op.op_type == "Identity" else Abstract(shape, dtype)
            sizes[key] = NodeSize(tuple(shape), dtype, size)
            live = sum({id(v): _nbytes(v) for v in values.values()}.values())  # an Identity's value counts once
            if live > max_live_bytes:
                raise CheckpointError(f"{source}: after {label} the graph would hold {_bytes(live)} of values at "
                                      f"once for a {given} input; a converted ONNX graph may hold at most "
                                      f"{_bytes(max_live_bytes)} (MAX_LIVE_BYTES)")
            for name in dead:
                values.pop(name, None)
    return sizes


def _run(op: Any, args: list[Any], where: str) -> torch.Tensor:
    try:
        return op(*args)
    except Exception as exc:  # noqa: BLE001
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{where} fails on the graph's constants: {type(exc).__name__}: {detail}") from None
