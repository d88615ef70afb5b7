"""Convert an ONNX graph into a differentiable PyTorch module.

The ``onnx`` package reads the file; each node becomes an operator module from
:mod:`~s2w_toolkit.weights.onnx_ops` (so forward hooks, and thus Grad-CAM, work on any node),
float initializers become parameters and ``Constant`` nodes are folded into buffers. A graph
with an operator outside :data:`~s2w_toolkit.weights.onnx_ops.SUPPORTED` is refused with a
one-line :class:`~s2w_toolkit.errors.CheckpointError` naming it.

Tensors stored as external data are read by :func:`read_onnx` itself, never by ``onnx``: each
location must be a relative path that stays inside the model's folder once resolved, naming a
regular file that is not a symlink and has no other hard link; anything else is refused.

Example:
    >>> import onnx, torch
    >>> from onnx import helper, TensorProto
    >>> graph = helper.make_graph(
    ...     [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    >>> net = convert_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    >>> net(torch.tensor([[-1.0, 2.0]]))
    tensor([[0., 2.]])
    >>> net.node("relu").op_type
    'Relu'
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .formats import check_weights_file
from ..errors import CheckpointError
from .graph_plan import GraphPlan, PlannedNode
from .onnx_ops import SUPPORTED, OnnxOp, Reshape, UnsupportedOperator

if TYPE_CHECKING:  # onnx takes most of a second to import: only converting a graph needs it
    import onnx


def read_onnx(path: str | Path) -> onnx.ModelProto:
    """Parse an ``.onnx`` file and load its external data (see the module docs); a one-line
    :class:`CheckpointError` if it is not a model or its external data is refused."""
    import onnx

    path = check_weights_file(path, "ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable ONNX model ({detail})") from None
    if not model.graph.node or not model.opset_import:
        raise CheckpointError(f"{path}: not an ONNX model (no graph nodes or opset found)")
    for tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _load_external(tensor, path)
    return model


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        yield from _attribute_tensors(node)


def _attribute_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        for sparse in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors):
            yield from (sparse.values, sparse.indices)
        for graph in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            yield from _graph_tensors(graph)


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the model: initializers, sparse ones, node attributes, subgraphs, functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _attribute_tensors(node)


def _load_external(tensor: onnx.TensorProto, model_path: Path) -> None:
    """Read an external tensor's bytes into ``raw_data``, after checking where they are."""
    import onnx

    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")

    def refuse(reason: str) -> CheckpointError:
        return CheckpointError(f"{model_path}: tensor {tensor.name!r} keeps its data in {location!r}, {reason}; "
                               "external data must be a regular file inside the model's folder")

    if not location or PurePosixPath(location).is_absolute() or PureWindowsPath(location).drive \
            or PureWindowsPath(location).root:
        raise refuse("an absolute or empty path")
    candidate = model_path.parent / location
    if os.path.islink(candidate):
        raise refuse("a symlink")
    folder, resolved = os.path.realpath(model_path.parent), os.path.realpath(candidate)
    try:
        inside = os.path.commonpath([folder, resolved]) == folder
    except ValueError:  # another drive
        inside = False
    if not inside:
        raise refuse("which resolves outside the model's folder")
    try:  # O_NOFOLLOW: a symlink swapped in since the check is not followed either
        fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise refuse(f"which cannot be opened ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise refuse("not a regular file")
        if status.st_nlink > 1:
            raise refuse("a file with other hard links")
        try:
            offset, length = int(info.get("offset") or 0), info.get("length")
            length = status.st_size - offset if length in (None, "") else int(length)
        except ValueError:
            raise refuse("with a non-integer offset or length") from None
        if offset < 0 or length < 0 or offset + length > status.st_size:
            raise refuse(f"but offset {offset} + length {length} exceeds its {status.st_size} bytes (truncated?)")
        stream.seek(offset)
        tensor.raw_data = stream.read(length)
    tensor.data_location = onnx.TensorProto.DEFAULT
    del tensor.external_data[:]


def _opset(model: onnx.ModelProto) -> int:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return versions[0] if versions else 0


def _key(name: str, taken: set[str]) -> str:
    key = re.sub(r"\W", "_", name).strip("_") or "node"
    clashes = hasattr(nn.ModuleDict, key) or hasattr(nn.ParameterDict, key)  # "half", "to", "keys"...
    key = f"n_{key}" if key[0].isdigit() or clashes else key
    unique, i = key, 1
    while unique in taken:
        unique, i = f"{key}_{i}", i + 1
    taken.add(unique)
    return unique


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    from onnx import helper, numpy_helper

    attr = node.attribute[0] if len(node.attribute) == 1 else None
    if attr is None or attr.name not in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        raise UnsupportedOperator(f"Constant with attribute {attr.name if attr else 'none'}")
    value = helper.get_attribute_value(attr)
    if attr.name == "value":
        return numpy_helper.to_array(value)
    dtype = np.float32 if "float" in attr.name else np.int64
    return np.asarray(value, dtype=dtype)


def plan_graph(model: onnx.ModelProto, source: str = "<model>") -> GraphPlan:
    """What :class:`OnnxModule` is built from, read off an ONNX model: its opset, initializers,
    inputs, outputs and nodes (``Constant`` nodes with their values). Refuses, in one line, an
    unsupported operator or a tensor whose external data was not loaded."""
    from onnx import helper, numpy_helper

    graph = model.graph
    unsupported = sorted({n.op_type for n in graph.node if n.op_type not in SUPPORTED or
                          n.domain not in ("", "ai.onnx")})
    if unsupported:
        raise CheckpointError(f"{source}: unsupported ONNX operator(s) {', '.join(unsupported)}; "
                              f"supported: {', '.join(SUPPORTED)}")
    import onnx

    external = next((t.name for t in _all_tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL), None)
    if external is not None:
        raise CheckpointError(f"{source}: tensor {external!r} keeps its data in an external file that was not "
                              "loaded; convert the model from its path (read_onnx checks external data)")
    initialized = {init.name for init in graph.initializer}
    nodes = []
    for index, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{index}"
        try:
            value = _constant_value(node) if node.op_type == "Constant" else None
        except UnsupportedOperator as exc:
            raise CheckpointError(f"{source}: unsupported {exc} in node {label!r}") from None
        attrs = {} if value is not None else {a.name: helper.get_attribute_value(a) for a in node.attribute}
        nodes.append(PlannedNode(label, node.op_type, attrs, list(node.input), list(node.output), value))
    return GraphPlan(
        opset=_opset(model),
        initializers=[(init.name, numpy_helper.to_array(init)) for init in graph.initializer],
        input_names=[i.name for i in graph.input if i.name not in initialized],
        input_shapes=[[d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
                      for i in graph.input if i.name not in initialized],
        output_names=[o.name for o in graph.output],
        nodes=nodes)


class OnnxModule(nn.Module):
    """An ONNX graph as a module: ``forward(*inputs)`` returns the graph's output (a tuple when
    it has several). Nodes are submodules in :attr:`nodes`, in graph order.

    Example:
        >>> from onnx import helper, TensorProto
        >>> g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
        >>> m = OnnxModule(helper.make_model(g))
        >>> m.input_names, m.input_shapes, m.output_names
        (['x'], [[1, 3, 8, 8]], ['y'])
    """

    def __init__(self, model: onnx.ModelProto | GraphPlan, source: str = "<model>") -> None:
        super().__init__()
        plan = model if isinstance(model, GraphPlan) else plan_graph(model, source)
        self.weights = nn.ParameterDict()
        self.constants = nn.Module()
        self._lookup: dict[str, tuple[str, str]] = {}
        taken: set[str] = set()
        for name, array in plan.initializers:
            self._add_constant(name, array, taken, trainable=True)
        self.input_names = list(plan.input_names)
        self.input_shapes = [list(shape) for shape in plan.input_shapes]
        self.output_names = list(plan.output_names)
        self.nodes = nn.ModuleDict()
        self._wiring: list[tuple[str, list[str], str]] = []
        node_keys: set[str] = set()
        static_batch_one = bool(self.input_shapes and self.input_shapes[0][:1] == [1])
        for node in plan.nodes:
            if node.op_type == "Constant":
                self._add_constant(node.outputs[0], node.value, taken, trainable=False)
                continue
            try:
                op = OnnxOp.create(node.op_type, dict(node.attrs), plan.opset)
            except UnsupportedOperator as exc:
                raise CheckpointError(f"{source}: unsupported {exc} in node {node.label!r}") from None
            outputs = [o for o in node.outputs if o]
            if len(outputs) != 1 or node.outputs[0] != outputs[0]:
                raise CheckpointError(f"{source}: node {node.label!r} ({node.op_type}) has {len(outputs)} outputs; "
                                      "only the first output of an operator is supported")
            if isinstance(op, Reshape):
                op.batch_polymorphic = static_batch_one
            key = _key(node.label, node_keys)
            self.nodes[key] = op
            self._wiring.append((key, list(node.inputs), outputs[0]))
        self._check_order(source)
        self._release = self._release_plan()

    def _add_constant(self, name: str, array: np.ndarray, taken: set[str], trainable: bool) -> None:
        key = _key(name, taken)
        tensor = torch.from_numpy(np.array(array, copy=True))
        if trainable and tensor.is_floating_point():
            self.weights[key] = nn.Parameter(tensor)
            self._lookup[name] = ("weights", key)
        else:
            self.constants.register_buffer(key, tensor)
            self._lookup[name] = ("constants", key)

    def _check_order(self, source: str) -> None:
        known = set(self.input_names) | set(self._lookup) | {""}
        for key, inputs, output in self._wiring:
            missing = [n for n in inputs if n not in known]
            if missing:
                raise CheckpointError(f"{source}: input {missing[0]!r} of node {key!r} is never defined "
                                      "(truncated file, or nodes out of order)")
            known.add(output)
        absent = [n for n in self.output_names if n not in known]
        if absent:
            raise CheckpointError(f"{source}: graph output {absent[0]!r} is never computed")

    def _release_plan(self) -> list[list[str]]:
        """For each node, the intermediate values no later node needs (freed to save memory)."""
        last_use: dict[str, int] = {}
        for i, (_, inputs, _) in enumerate(self._wiring):
            for name in inputs:
                if name and name not in self._lookup:
                    last_use[name] = i
        plan: list[list[str]] = [[] for _ in self._wiring]
        for name, i in last_use.items():
            if name not in self.output_names:
                plan[i].append(name)
        return plan

    def is_constant(self, name: str) -> bool:
        """Whether a value is an initializer or a folded Constant."""
        return name in self._lookup

    def consumers(self, name: str) -> list[tuple[str, list[str]]]:
        """``(module key, input names)`` of each node that reads the value ``name``."""
        return [(key, inputs) for key, inputs, _ in self._wiring if name in inputs]

    def keep_outputs(self, names: list[str]) -> None:
        """Compute only these graph outputs from now on (e.g. the embedding of a multi-output graph)."""
        unknown = [n for n in names if n not in self.output_names]
        if unknown:
            raise KeyError(f"no graph output {unknown[0]!r}; outputs: {', '.join(self.output_names)}")
        self.output_names = list(names)
        self._release = self._release_plan()

    def output_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The output shape of every node for a zero input of ``input_shape`` (one forward pass)."""
        from ..capture import recording

        reference = next(iter(self.weights.values()), None)
        with recording(self.nodes) as seen, torch.no_grad():
            self(torch.zeros(input_shape, device=reference.device if reference is not None else None))
        return {key: tuple(outputs[-1].shape) for key, outputs in seen.items() if outputs}

    def node(self, name: str) -> OnnxOp:
        """The operator module of a node, by its ONNX node name (or its module key)."""
        if name in self.nodes:
            return self.nodes[name]
        key = _key(name, set())
        if key in self.nodes:
            return self.nodes[key]
        raise KeyError(f"no node {name!r}")

    def forward(self, *inputs: torch.Tensor):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"the graph takes {len(self.input_names)} input(s), got {len(inputs)}")
        env: dict[str, torch.Tensor | None] = dict(zip(self.input_names, inputs))
        env[""] = None
        for name, (holder, key) in self._lookup.items():
            env[name] = self.weights[key] if holder == "weights" else getattr(self.constants, key)
        for (key, names, output), dead in zip(self._wiring, self._release):
            env[output] = self.nodes[key](*[env[n] for n in names])
            for name in dead:
                env.pop(name, None)
        outputs = tuple(env[n] for n in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs


def convert_onnx(source: str | Path | onnx.ModelProto) -> OnnxModule:
    """An :class:`OnnxModule` from a path or a loaded ``ModelProto``, in eval mode (see
    :func:`~s2w_toolkit.weights.graph_plan.load_converted` for a path converted once and cached)."""
    if not isinstance(source, (str, os.PathLike)):
        return OnnxModule(source).eval()
    return OnnxModule(read_onnx(source), source=str(source)).eval()
