"""Convert a TFJS graph model (``model.json`` and its weight shards, as ``tensorflowjs_converter``
writes them; e.g. HSE FaceRes in ``@vladmandic/human``) into a differentiable PyTorch module.

The JSON is parsed with :mod:`json` and the shards read as little-endian arrays; nothing of the
model is executed. Weights are dequantised once, at conversion, to float32: ``float16`` widened,
``uint8``/``uint16`` mapped affinely (``q * scale + min``). Each node that computes becomes a
module of :mod:`~s2w_toolkit.weights.tfjs_ops` in :attr:`TFJSModule.ops`, keyed by its node name
(``<op>_<index>`` if the name has a dot), so forward hooks work on any node; filters become
parameters. Nodes that read only constants are computed once, at conversion.

**Layout.** Inside the module every rank-4 value is NCHW (the graph's NHWC converted once, at the
input); the module takes and returns tensors in the graph's declared layout (NHWC for a rank-4
input or output), so ``net(x)`` matches TensorFlow.js on the same ``x``. A rank-4 input may also
be given channels first, ``(N, C, H, W)``, when its shape says so unambiguously (axis 1, not 3,
has the declared channel count), as :func:`~s2w_toolkit.cam.find_cam_layer` passes one.

**Inputs and outputs.** :attr:`~TFJSModule.input_names` and :attr:`~TFJSModule.output_names` are
the keys of the JSON's ``signature`` (in its order, as TensorFlow.js names them); without one, the
Placeholder nodes and the nodes nothing reads (constants aside), in the JSON's node order.
``net(*inputs)`` always returns a tuple, in :attr:`~TFJSModule.output_names` order.

Refused in one line (:class:`~s2w_toolkit.errors.CheckpointError`): a file that is not a TFJS graph
model (a layers model, another format, not JSON), a shard path outside the JSON's folder, a missing
shard or one whose bytes do not add up to the manifest's, a weight declared larger than
:data:`~s2w_toolkit.weights.onnx_shapes.MAX_TENSOR_BYTES` (before anything is read), an operator
outside :data:`~s2w_toolkit.weights.tfjs_ops.SUPPORTED` (named), a cycle, an input naming no node.

Example:
    >>> import numpy as np, tempfile, torch
    >>> from s2w_toolkit.weights.tfjs_build import build_tfjs
    >>> w = np.full((1, 1, 3, 2), 0.5, np.float16)  # HWIO, shipped as float16
    >>> path = build_tfjs(tempfile.mkdtemp(), {"x": (-1, 4, 4, 3)},
    ...                   [("y", "Conv2D", ["x", "w"], {"padding": "SAME"})], {"w": w})
    >>> net = convert_tfjs(path)
    >>> x = torch.ones(2, 4, 4, 3, requires_grad=True)  # NHWC, as the graph declares
    >>> (y,) = net(x)
    >>> y.shape, y[0, 0, 0], net.input_names, net.output_names
    (torch.Size([2, 4, 4, 2]), tensor([1.5000, 1.5000], grad_fn=<SelectBackward0>), ['x'], ['y'])
    >>> y.sum().backward(); float(x.grad[0, 0, 0, 0]), net.ops["y"].weight.dtype
    (1.0, torch.float32)
    >>> path.with_name("group1-shard1of1.bin").write_bytes(b"")
    0
    >>> convert_tfjs(path)
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.CheckpointError: .../model.json: weight group 0 has 0 bytes in [...], its manifest needs 12 (...)
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from .formats import TFJS, TFJS_LAYERS, check_weights_file, sniff_format
from .onnx_ops import UnsupportedOperator
from .onnx_shapes import MAX_TENSOR_BYTES
from .tflite_ops import to_semantic, to_stored
from .tfjs_ops import SUPPORTED, TFJSOp, _channels_last

__all__ = ["TFJSModule", "convert_tfjs", "read_tfjs"]

#: Bytes per value of each weight dtype, as stored (``quantization.dtype`` where quantised).
ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint8": 1, "uint16": 2}
_NUMPY = {"float32": "<f4", "int32": "<i4", "bool": "?", "float16": "<f2", "uint8": "u1", "uint16": "<u2"}


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _attr(value: dict[str, Any]) -> Any:
    """A TensorFlow ``AttrValue`` as JSON: ``s`` (base64), ``i``, ``f``, ``b``, ``type``, ``shape``, or a ``list``."""
    def scalar(key: str, v: Any) -> Any:
        if key == "s":
            return base64.b64decode(v).decode("utf-8", "replace")
        if key == "shape":
            return None if v.get("unknownRank") or v.get("unknown_rank") else tuple(
                None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in v.get("dim", []))
        return {"i": int, "f": float, "b": bool, "type": str}[key](v)

    keys = ("s", "i", "f", "b", "type", "shape")
    if "list" in value:
        items = value["list"] or {}
        return next(([scalar(k, v) for v in items[k]] for k in keys if k in items), [])
    return next((scalar(k, value[k]) for k in keys if k in value), None)


def _shard(folder: Path, name: Any, source: str) -> Path:
    if not isinstance(name, str) or not name or "://" in name or any(
            p.is_absolute() or p.drive or ".." in p.parts for p in (PurePosixPath(name), PureWindowsPath(name))):
        raise CheckpointError(f"{source}: weight shard path {name!r} leaves the model's folder; refused")
    return check_weights_file(folder / name, "TFJS weight shard")


def _weights(manifest: list[dict[str, Any]], folder: Path, source: str) -> dict[str, np.ndarray]:
    """Every weight of the manifest, float32 (or int32, bool), sizes checked before any shard is read."""
    weights: dict[str, np.ndarray] = {}
    for g, group in enumerate(manifest):
        specs, offset = [], 0
        for spec in group["weights"]:
            name, shape, dtype = str(spec["name"]), [int(d) for d in spec["shape"]], spec["dtype"]
            q = spec.get("quantization")
            stored = q["dtype"] if q else dtype
            if dtype not in ("float32", "int32", "bool") or stored not in ITEMSIZE or q and not (
                    stored == "float16" and dtype == "float32" or stored in ("uint8", "uint16") and
                    dtype != "bool" and {"min", "scale"} <= set(q)):
                raise CheckpointError(f"{source}: weight {name!r} has dtype {dtype} stored as {stored}; not supported")
            count = math.prod(shape)
            if min(shape, default=0) < 0 or count * 4 > MAX_TENSOR_BYTES:
                raise CheckpointError(f"{source}: weight {name!r} declares shape {shape}, over "
                                      f"{_mib(MAX_TENSOR_BYTES)} (MAX_TENSOR_BYTES); refused")
            specs.append((name, shape, dtype, q, stored, offset))
            offset += count * ITEMSIZE[stored]
        paths = [_shard(folder, p, source) for p in group["paths"]]
        if sum(p.stat().st_size for p in paths) != offset:
            raise CheckpointError(f"{source}: weight group {g} has {sum(p.stat().st_size for p in paths)} bytes in "
                                  f"{group['paths']}, its manifest needs {offset} (missing or truncated shard)")
        data = b"".join(p.read_bytes() for p in paths)
        for name, shape, dtype, q, stored, start in specs:
            if name in weights:
                raise CheckpointError(f"{source}: weight {name!r} is in the manifest twice")
            value = np.frombuffer(data, _NUMPY[stored], math.prod(shape), start).reshape(shape)
            if stored in ("uint8", "uint16"):  # in float64 then rounded once, as TensorFlow.js does
                value = value * float(q["scale"]) + float(q["min"])
                value = np.floor(value + 0.5) if dtype == "int32" else value
            weights[name] = value.astype({"float32": np.float32, "int32": np.int32, "bool": np.bool_}[dtype])
    return weights


def read_tfjs(path: str | Path) -> dict[str, Any]:
    """A TFJS graph model as plain values: ``nodes`` (name, op, input names, decoded attrs),
    ``weights`` (name to numpy array), ``inputs`` (name, node, declared shape) and ``outputs``
    (name, node). Refuses a bad file in one line (see the module docs)."""
    path = check_weights_file(path, "TFJS model.json")
    source, found = str(path), sniff_format(path)
    if found == TFJS_LAYERS:
        raise CheckpointError(f"{source}: a TFJS layers model (a Keras topology), not a graph model; refused")
    if found not in (None, TFJS):
        raise CheckpointError(f"{source}: expected a TFJS graph model (model.json), found {found}")
    if path.stat().st_size > MAX_TENSOR_BYTES:
        raise CheckpointError(f"{source}: a model.json over {_mib(MAX_TENSOR_BYTES)}; refused")
    try:
        model = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{source}: not a TFJS graph model (not JSON: {exc})") from None
    try:
        return _read(model, path.parent, source)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise CheckpointError(f"{source}: not a readable TFJS graph model ({detail})") from None


def _read(model: Any, folder: Path, source: str) -> dict[str, Any]:
    topology = model.get("modelTopology") if isinstance(model, dict) else None
    if isinstance(model, dict) and (model.get("format") == "layers-model" or isinstance(topology, dict) and (
            "class_name" in topology or "model_config" in topology)):
        raise CheckpointError(f"{source}: a TFJS layers model (a Keras topology), not a graph model; refused")
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise CheckpointError(f"{source}: not a TFJS graph model (no modelTopology.node list)")
    nodes = [(str(n["name"]), str(n["op"]), [str(i) for i in n.get("input") or []],
              {str(k): _attr(v) for k, v in (n.get("attr") or {}).items()}) for n in topology["node"]]
    declared = {name: attrs.get("shape") for name, op, _, attrs in nodes if op == "Placeholder"}
    signature = model.get("signature") or {}
    sig_in, sig_out = signature.get("inputs") or {}, signature.get("outputs") or {}
    inputs = [(k, str(v["name"]), _attr({"shape": v["tensorShape"]}) if "tensorShape" in v else None)
              for k, v in sig_in.items()] or [(n, n, None) for n in declared]
    inputs = [(k, n.split(":")[0], declared.get(n.split(":")[0]) or shape) for k, n, shape in inputs]
    read = {i.split(":")[0].lstrip("^") for _, _, ins, _ in nodes for i in ins}
    outputs = [(k, str(v["name"])) for k, v in sig_out.items()] or [
        (name, name) for name, op, _, _ in nodes if name not in read and op not in ("Const", "Placeholder")]
    return {"nodes": nodes, "weights": _weights(model.get("weightsManifest") or [], folder, source),
            "inputs": inputs, "outputs": outputs}


def _node_of(name: str, source: str, where: str) -> str:
    node, _, index = name.partition(":")
    if index not in ("", "0"):
        raise CheckpointError(f"{source}: {where} reads output {index} of node {node!r}; only single-output "
                              "operators are supported")
    return node


class TFJSModule(nn.Module):
    """A TFJS graph as a channels-first PyTorch module (see the module docs and example).

    Example:
        >>> graph = {"nodes": [("x", "Placeholder", [], {"shape": (None, 2)}), ("y", "Sigmoid", ["x"], {})],
        ...          "weights": {}, "inputs": [("x", "x", (None, 2))], "outputs": [("y", "y")]}
        >>> net = TFJSModule(graph)
        >>> net(torch.zeros(1, 2)), net.input_shapes, list(net.ops)
        ((tensor([[0.5000, 0.5000]]),), [(None, 2)], ['y'])
    """

    def __init__(self, graph: dict[str, Any], source: str = "<model>") -> None:
        super().__init__()
        nodes = {name: (op, ins, attrs) for name, op, ins, attrs in graph["nodes"]}
        if len(nodes) != len(graph["nodes"]):
            raise CheckpointError(f"{source}: two nodes share a name")
        for name, (_, ins, _) in nodes.items():
            for parent in (i.lstrip("^").partition(":")[0] for i in ins):
                if parent not in nodes:
                    raise CheckpointError(f"{source}: node {name!r} reads {parent!r}, which is no node of the graph")
        unsupported = sorted({op for op, _, _ in nodes.values() if op not in SUPPORTED})
        if unsupported:
            raise CheckpointError(f"{source}: unsupported TFJS operator {', '.join(unsupported)}")
        self.input_names = [key for key, _, _ in graph["inputs"]]
        self.output_names = [key for key, _ in graph["outputs"]]
        self.input_shapes = [shape for _, _, shape in graph["inputs"]]
        self._inputs = [_node_of(n, source, "the graph's input") for _, n, _ in graph["inputs"]]
        self._outputs = [_node_of(n, source, "the graph's output") for _, n in graph["outputs"]]
        for name in self._inputs + self._outputs:
            if name not in nodes:
                raise CheckpointError(f"{source}: the signature names {name!r}, which is no node of the graph")
        if any(shape is None for shape in self.input_shapes):
            raise CheckpointError(f"{source}: an input of the graph declares no shape (rank)")
        shapes: dict[str, tuple] = dict(zip(self._inputs, self.input_shapes))
        values: dict[str, np.ndarray] = {}
        self.ops, self.constants = nn.ModuleDict(), nn.Module()
        self._wiring: list[tuple[str, list[str], str]] = []
        for index, name in enumerate(self._order(nodes, source)):
            op, ins, attrs = nodes[name]
            ins = [_node_of(i, source, f"node {name!r}") for i in ins if not i.startswith("^")]
            if name in shapes:
                continue
            if op == "Const":
                if name not in graph["weights"]:
                    raise CheckpointError(f"{source}: constant {name!r} has no weight in the manifest")
                values[name] = graph["weights"][name]
                shapes[name] = values[name].shape
                continue
            if op == "Placeholder":
                raise CheckpointError(f"{source}: placeholder {name!r} is read but is no input of the graph")
            try:
                module = TFJSOp.create(op, [(shapes[i], values.get(i)) for i in ins], attrs)
            except UnsupportedOperator as exc:
                raise CheckpointError(f"{source}: unsupported TFJS {exc} (node {name!r})") from None
            except (IndexError, KeyError, ValueError, TypeError, RuntimeError) as exc:
                raise CheckpointError(f"{source}: node {name!r} ({op}) does not fit its inputs: "
                                      f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
            shapes[name] = module.out_shape
            size = 4 * math.prod(d or 1 for d in module.out_shape)
            if size > MAX_TENSOR_BYTES:
                raise CheckpointError(f"{source}: node {name!r} ({op}) would build a {list(module.out_shape)} tensor "
                                      f"({_mib(size)}) for one image, over MAX_TENSOR_BYTES; refused")
            if not module.runtime_slots:  # it reads constants only: computed now, once
                with torch.no_grad():
                    values[name] = to_semantic(module(*module.operands(())), len(module.out_shape)).numpy()
                continue
            key = name if "." not in name and name not in self.ops else f"{op}_{index}"
            self.ops[key] = module
            self._wiring.append((key, [ins[i] for i in module.runtime_slots], name))
        self._lookup = {}
        for name in self._outputs:
            if name in values and name not in self._lookup:  # kept as every value is (NCHW at rank 4)
                value = torch.from_numpy(np.array(values[name]))
                self.constants.register_buffer(f"t{len(self._lookup)}", to_stored(value, value.dim()).contiguous())
                self._lookup[name] = f"t{len(self._lookup)}"
        self.ranks = {name: len(shape) for name, shape in shapes.items()}
        self._release = self._release_plan()

    def _order(self, nodes: dict[str, tuple], source: str) -> list[str]:
        """The nodes the outputs need, each after its inputs; a missing input or a cycle is refused."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1: being visited, 2: done
        for root in self._outputs:
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    raise CheckpointError(f"{source}: node {name!r} is in a cycle")
                state[name] = 1
                stack.append((name, True))
                for i in reversed([i for i in nodes[name][1] if not i.startswith("^")]):
                    parent = _node_of(i, source, f"node {name!r}")
                    if state.get(parent) == 1:
                        raise CheckpointError(f"{source}: node {parent!r} is in a cycle")
                    if name not in self._inputs and state.get(parent) != 2:
                        stack.append((parent, False))
        return order

    def _release_plan(self) -> list[list[str]]:
        last = {i: n for n, (_, ins, _) in enumerate(self._wiring) for i in ins}
        plan: list[list[str]] = [[] for _ in self._wiring]
        for name, n in last.items():
            if name not in self._outputs:
                plan[n].append(name)
        return plan

    def _stored(self, x: torch.Tensor, name: str, shape: tuple) -> torch.Tensor:
        if len(shape) == 4 and x.dim() == 4 and shape[3] is not None and x.shape[3] != shape[3] == x.shape[1]:
            return _channels_last(x)  # given channels first (see the module docs)
        return _channels_last(to_stored(x, self.ranks[name]))

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self._inputs):
            raise ValueError(f"expected {len(self._inputs)} inputs ({', '.join(self.input_names)}), got {len(inputs)}")
        values = {n: self._stored(x, n, s) for n, x, s in zip(self._inputs, inputs, self.input_shapes)}
        values.update({n: getattr(self.constants, key) for n, key in self._lookup.items()})
        for (key, ins, out), release in zip(self._wiring, self._release):
            values[out] = self.ops[key](*(values[i] for i in ins))
            for name in release:
                del values[name]
        return tuple(to_semantic(values[n], self.ranks[n]) for n in self._outputs)


def convert_tfjs(path: str | Path) -> TFJSModule:
    """The module of the TFJS graph model whose ``model.json`` is at ``path`` (see the module example)."""
    from .tfjs_fuse import fuse_graph

    path = check_weights_file(path, "TFJS model.json")
    return TFJSModule(fuse_graph(read_tfjs(path)), str(path))
