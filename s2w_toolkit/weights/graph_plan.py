"""What a converted ONNX graph is built from, and a cache of it that needs no ``onnx`` to read.

Converting a graph means importing ``onnx`` (most of a second, for ``ml_dtypes``) and parsing
the protobuf. :func:`load_converted` does that once per model file: it keeps the graph's
:class:`GraphPlan` in a plain-tensor file, ``user_cache_dir("onnx")/<sha256 of the file>.pt``
(see :mod:`s2w_toolkit.io.user_cache`), and later runs build the module from it. The file holds
tensors and one JSON string, and is read with ``torch.load(weights_only=True)``, so reading it
runs no pickled code; a damaged one is converted again and rewritten, with a warning. A plan
with a value JSON cannot hold (a tensor-valued attribute, a string tensor) is not cached.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> plan = GraphPlan(opset=18, initializers=[("w", np.ones(2, np.float32))], input_names=["x"],
    ...                  input_shapes=[[None, 2]], output_names=["y"],
    ...                  nodes=[PlannedNode("mul", "Mul", {}, ["x", "w"], ["y"])])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "plan.pt"
    >>> save_plan(plan, path)
    >>> load_plan(path) == plan
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PLAN_VERSION = "onnx-plan-1"  # bump when the converter reads a graph differently


@dataclass
class PlannedNode:
    """One graph node: ``label`` (its name, or ``OpType_index``), operator, attributes, the
    value names it reads and writes, and for a ``Constant`` its ``value``.

    Example:
        >>> node = PlannedNode("two", "Constant", {}, [], ["k"], value=np.array([2.0], np.float32))
        >>> node == PlannedNode("two", "Constant", {}, [], ["k"], value=np.array([2.0], np.float32))
        True
        >>> node == PlannedNode("two", "Constant", {}, [], ["k"], value=np.array([3.0], np.float32))
        False
    """

    label: str
    op_type: str
    attrs: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    value: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlannedNode):
            return NotImplemented
        same_value = (self.value is None) == (other.value is None) and (
            self.value is None or np.array_equal(self.value, other.value))
        return same_value and (self.label, self.op_type, self.attrs, self.inputs, self.outputs) == (
            other.label, other.op_type, other.attrs, other.inputs, other.outputs)


@dataclass
class GraphPlan:
    """A graph as :class:`~s2w_toolkit.weights.onnx_graph.OnnxModule` needs it.

    Example:
        >>> import torch
        >>> from s2w_toolkit.weights.onnx_graph import OnnxModule
        >>> plan = GraphPlan(opset=18, initializers=[("w", np.array([3.0, 4.0], np.float32))], input_names=["x"],
        ...                  input_shapes=[[None, 2]], output_names=["y"],
        ...                  nodes=[PlannedNode("mul", "Mul", {}, ["x", "w"], ["y"])])
        >>> OnnxModule(plan)(torch.tensor([[1.0, 2.0]])).tolist()  # y = x * w
        [[3.0, 8.0]]
    """

    opset: int
    initializers: list[tuple[str, np.ndarray]]
    input_names: list[str]
    input_shapes: list[list[int | None]]
    output_names: list[str]
    nodes: list[PlannedNode] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GraphPlan):
            return NotImplemented
        return (self.opset, self.input_names, self.input_shapes, self.output_names, self.nodes) == (
            other.opset, other.input_names, other.input_shapes, other.output_names, other.nodes) and \
            [n for n, _ in self.initializers] == [n for n, _ in other.initializers] and \
            all(a.dtype == b.dtype and np.array_equal(a, b) for (_, a), (_, b) in zip(self.initializers,
                                                                                    other.initializers))


class _Unstorable(ValueError):
    """A plan value that the plain-tensor file cannot hold."""


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise _Unstorable(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["bytes"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _tensor(array: np.ndarray) -> Any:
    import torch

    if array.dtype.kind not in "biuf":
        raise _Unstorable(f"a {array.dtype} tensor")
    return torch.from_numpy(np.array(array, copy=True, order="C"))  # 0-d stays 0-d


def save_plan(plan: GraphPlan, path: str | Path) -> None:
    """Write ``plan`` to ``path`` atomically as tensors plus one JSON string (see the module)."""
    import io

    import torch

    from ..io.atomic import write_bytes

    tensors = {f"i{k}": _tensor(a) for k, (_, a) in enumerate(plan.initializers)}
    tensors |= {f"c{k}": _tensor(n.value) for k, n in enumerate(plan.nodes) if n.value is not None}
    meta = {"version": PLAN_VERSION, "opset": plan.opset, "initializers": [n for n, _ in plan.initializers],
            "input_names": plan.input_names, "input_shapes": plan.input_shapes, "output_names": plan.output_names,
            "nodes": [[n.label, n.op_type, {k: _encode(v) for k, v in n.attrs.items()}, n.inputs, n.outputs,
                       n.value is not None] for n in plan.nodes]}
    buffer = io.BytesIO()
    torch.save({"plan": json.dumps(meta), "tensors": tensors}, buffer)
    write_bytes(path, buffer.getvalue())


def load_plan(path: str | Path) -> GraphPlan:
    """The plan :func:`save_plan` wrote; ``ValueError`` if the file is not one (of this version)."""
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    meta, tensors = json.loads(data["plan"]), data["tensors"]
    if meta.get("version") != PLAN_VERSION:
        raise ValueError(f"plan version {meta.get('version')!r}, not {PLAN_VERSION!r}")
    nodes = [PlannedNode(label, op, {k: _decode(v) for k, v in attrs.items()}, inputs, outputs,
                         tensors[f"c{k}"].numpy() if has_value else None)
             for k, (label, op, attrs, inputs, outputs, has_value) in enumerate(meta["nodes"])]
    return GraphPlan(opset=meta["opset"], initializers=[(n, tensors[f"i{k}"].numpy())
                                                        for k, n in enumerate(meta["initializers"])],
                     input_names=meta["input_names"], input_shapes=meta["input_shapes"],
                     output_names=meta["output_names"], nodes=nodes)


def cached_plan_path(path: str | Path) -> Path:
    """Where the plan of the ONNX file ``path`` is cached: keyed by its content's SHA-256."""
    from ..io.user_cache import user_cache_dir

    with open(path, "rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return user_cache_dir("onnx") / f"{digest}-{PLAN_VERSION}.pt"


def load_converted(path: str | Path) -> Any:
    """:func:`~s2w_toolkit.weights.onnx_graph.convert_onnx` of the file ``path``, converted once:
    later calls (in any process) build the module from the cached plan without importing ``onnx``."""
    from .formats import check_weights_file
    from .onnx_graph import OnnxModule, plan_graph, read_onnx

    path = check_weights_file(path, "ONNX file")
    cached = cached_plan_path(path)
    if cached.is_file():
        try:
            return OnnxModule(load_plan(cached), source=str(path)).eval()
        except Exception as exc:  # noqa: BLE001 - a damaged cache entry is rebuilt, never fatal
            warnings.warn(f"{cached}: damaged cached conversion ({type(exc).__name__}: {exc}); converting again",
                          stacklevel=2)
    plan = plan_graph(read_onnx(path), source=str(path))
    module = OnnxModule(plan, source=str(path)).eval()  # refuses a bad graph before anything is cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_plan(plan, cached)
    except (_Unstorable, OSError):
        pass  # not cacheable, or no writable cache: the conversion is simply not kept
    return module
