"""Convert a TFLite flatbuffer (such as MediaPipe's face landmarker) into a differentiable
PyTorch module that runs channels first.

The ``tflite`` package (the TFLite schema's generated accessors, imported lazily) reads the
file; nothing is unpickled and nothing of the file is executed. Float16 weights behind a
DEQUANTIZE are widened to float32 once, at conversion. Each operator becomes a module of
:mod:`~s2w_toolkit.weights.tflite_ops` (so forward hooks work on any operator), keyed
``<OPERATOR>_<index>``; filters become parameters, in the NCHW layout.

**Layout.** Inside the module every rank-4 value is NCHW (the graph's NHWC converted once, at
the input); the module takes and returns tensors in the graph's *declared* layout, NHWC for a
rank-4 input or output, so ``net(x)`` matches the TFLite interpreter on the same ``x``. A leading
batch axis of declared size 1 may be larger where the graph keeps it (a convolutional trunk).

Refused, in one line (:class:`~s2w_toolkit.errors.CheckpointError`): a file without the
``TFL3`` identifier, a truncated or corrupt one, an operator outside
:data:`~s2w_toolkit.weights.tflite_ops.SUPPORTED` (named), and a tensor declared larger than
:data:`~s2w_toolkit.weights.onnx_shapes.MAX_TENSOR_BYTES` (before anything is allocated).

Example:
    >>> import numpy as np, torch
    >>> from s2w_toolkit.weights.tflite_build import build_tflite
    >>> w = np.full((2, 1, 1, 3), 0.5, np.float16)  # OHWI, stored as float16
    >>> data = build_tflite(
    ...     [("x", (1, 4, 4, 3), "float32"), ("w16", w.shape, w), ("w", w.shape, "float32"),
    ...      ("y", (1, 4, 4, 2), "float32")],
    ...     [("DEQUANTIZE", [1], [2], {}),
    ...      ("CONV_2D", [0, 2], [3], {"Padding": 0, "StrideH": 1, "StrideW": 1, "FusedActivationFunction": 1})],
    ...     inputs=[0], outputs=[3])
    >>> net = convert_tflite(data)
    >>> x = torch.ones(1, 4, 4, 3, requires_grad=True)  # NHWC, as the graph declares
    >>> y = net(x)
    >>> y.shape, y[0, 0, 0]
    (torch.Size([1, 4, 4, 2]), tensor([1.5000, 1.5000], grad_fn=<SelectBackward0>))
    >>> y.sum().backward(); float(x.grad[0, 0, 0, 0])
    1.0
    >>> list(net.ops), net.ops["CONV_2D_1"].weight.shape  # the filter is OIHW
    (['CONV_2D_1'], torch.Size([2, 3, 1, 1]))
    >>> convert_tflite(data[:200])
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.CheckpointError: <model>: not a readable TFLite model (truncated or corrupt: ...)
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from .formats import check_weights_file
from .onnx_ops import UnsupportedOperator
from .onnx_shapes import MAX_TENSOR_BYTES
from .tflite_ops import SUPPORTED, TFLiteOp, to_semantic, to_stored

__all__ = ["TFLiteModule", "convert_tflite", "read_tflite"]

_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16,
           9: np.int8, 10: np.float64}
_ITEMSIZE = {5: 1, 8: 8, 11: 16, 12: 4, 13: 2, 14: 4, 15: 8, 16: 2}  # types with no numpy value here


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """Rank 4: NCHW in shape, NHWC in memory (the fast convolutions on CPU); else contiguous."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x.contiguous()


class _Corrupt(Exception):
    pass


def _enum_names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def _options(op: Any, tflite: Any, option_names: dict[int, str]) -> dict[str, Any]:
    """An operator's builtin options table as ``{field: value}`` (scalar fields only)."""
    table = op.BuiltinOptions()
    if table is None or op.BuiltinOptionsType() not in option_names:
        return {}
    cls = getattr(tflite, option_names[op.BuiltinOptionsType()])
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out = {}
    for field in sorted(vars(cls)):
        if (field[0].isupper() and field != "Init" and not field.startswith("GetRootAs")
                and not field.endswith(("BufferHasIdentifier", "AsNumpy", "Length", "IsNone"))):
            try:
                out[field] = getattr(obj, field)()
            except TypeError:  # an element accessor, which takes an index
                continue
    return out


def _count(obj: Any, name: str, size: int) -> int:
    """The length of a vector of 4-byte entries, which must fit in the file's ``size`` bytes."""
    n = getattr(obj, f"{name}Length")()
    if n < 0 or 4 * n > size:
        raise _Corrupt(f"{name} vector of {n} entries")
    return n


def _vector(obj: Any, name: str, size: int) -> list[int]:
    return [int(getattr(obj, name)(i)) for i in range(_count(obj, name, size))]


def read_tflite(data: bytes, source: str = "<model>") -> dict[str, Any]:
    """The first subgraph of a TFLite model as plain values: ``tensors`` (name, shape, type code,
    constant or None), ``ops`` (operator name, input and output indices, options), ``inputs``,
    ``outputs``. Refuses a bad file in one line (see the module docs)."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise CheckpointError(f"{source}: not a TFLite model (no TFL3 identifier at byte 4)")
    try:
        import tflite
    except ImportError:
        raise CheckpointError(f"{source}: reading a TFLite model needs the tflite package "
                              "(pip install 'tflite>=2.18')") from None
    key = hashlib.sha256(data).digest()
    if key not in _PARSED:
        try:
            _PARSED[key] = _read(bytes(data), tflite, source)
        except (CheckpointError, UnsupportedOperator):
            raise
        except Exception as exc:  # noqa: BLE001 - the accessors fail in many ways on a bad buffer
            detail = str(exc) if isinstance(exc, _Corrupt) else type(exc).__name__
            raise CheckpointError(f"{source}: not a readable TFLite model (truncated or corrupt: {detail})") from None
        while len(_PARSED) > _PARSED_KEPT:
            _PARSED.popitem(last=False)
    _PARSED.move_to_end(key)
    return copy.deepcopy(_PARSED[key])  # the caller's own arrays: a module built from them may change them


#: Graphs already parsed in this process, by the SHA-256 of their bytes: the flatbuffer accessors
#: take a quarter of a second for MediaPipe's three networks (0.29 s, then 0.05 s for
#: ``FaceMesh.load``), and each attribute model that runs the face mesh loads them.
_PARSED: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
_PARSED_KEPT = 8


def _read(data: bytes, tflite: Any, source: str) -> dict[str, Any]:
    model = tflite.Model.GetRootAsModel(data, 0)
    size = len(data)
    if _count(model, "Subgraphs", size) < 1:
        raise _Corrupt("no subgraph")
    graph, n_buffers = model.Subgraphs(0), _count(model, "Buffers", size)
    n_codes = _count(model, "OperatorCodes", size)
    op_names, option_names = _enum_names(tflite.BuiltinOperator), _enum_names(tflite.BuiltinOptions)
    tensors = []
    for i in range(_count(graph, "Tensors", size)):
        t = graph.Tensors(i)
        shape, code = tuple(_vector(t, "Shape", size)), t.Type()
        name = (t.Name() or b"").decode("utf-8", "replace")
        itemsize = np.dtype(_DTYPES[code]).itemsize if code in _DTYPES else _ITEMSIZE.get(code, 8)
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=object)) * itemsize > MAX_TENSOR_BYTES:
            raise CheckpointError(f"{source}: tensor {name!r} declares shape {list(shape)}, over "
                                  f"{MAX_TENSOR_BYTES >> 20} MiB (MAX_TENSOR_BYTES); refused")
        value = None
        if 0 < t.Buffer() < n_buffers:
            buf = model.Buffers(t.Buffer())
            raw = (data[buf.Offset():buf.Offset() + buf.Size()] if buf.Offset() > 1
                   else buf.DataAsNumpy().tobytes() if buf.DataLength() else b"")
            if raw:
                if code not in _DTYPES or len(raw) != int(np.prod(shape, dtype=object)) * itemsize:
                    raise _Corrupt(f"buffer of tensor {name!r}")
                value = np.frombuffer(raw, _DTYPES[code]).reshape(shape)
        tensors.append((name, shape, code, value))
    ops = []
    for i in range(_count(graph, "Operators", size)):
        op = graph.Operators(i)
        if not 0 <= op.OpcodeIndex() < n_codes:
            raise _Corrupt(f"operator code of operator {i}")
        opcode = model.OperatorCodes(op.OpcodeIndex())
        code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
        name = op_names.get(code, f"builtin {code}")
        if name == "CUSTOM":
            name = f"CUSTOM {(opcode.CustomCode() or b'').decode('utf-8', 'replace')}"
        ins, outs = _vector(op, "Inputs", size), _vector(op, "Outputs", size)
        if any(j >= len(tensors) or j < -1 for j in ins + outs) or -1 in outs or not outs:
            raise _Corrupt(f"tensor index of operator {i}")
        ops.append((name, ins, outs, _options(op, tflite, option_names) if name in SUPPORTED else {}))
    inputs, outputs = _vector(graph, "Inputs", size), _vector(graph, "Outputs", size)
    if any(not 0 <= j < len(tensors) for j in inputs + outputs):
        raise _Corrupt("graph input or output index")
    return {"tensors": tensors, "ops": ops, "inputs": inputs, "outputs": outputs}


class TFLiteModule(nn.Module):
    """A TFLite graph as a channels-first PyTorch module (see the module docs and example).

    Example:
        >>> from s2w_toolkit.weights.tflite_build import build_tflite
        >>> data = build_tflite([("x", (2,), "float32"), ("y", (2,), "float32")],
        ...                     [("LOGISTIC", [0], [1], {})], inputs=[0], outputs=[1])
        >>> net = TFLiteModule(read_tflite(data))
        >>> net(torch.zeros(2)), net.input_shapes, net.output_names
        (tensor([0.5000, 0.5000]), [(2,)], ['y'])
    """

    def __init__(self, graph: dict[str, Any], source: str = "<model>") -> None:
        super().__init__()
        tensors, values = graph["tensors"], {i: t[3] for i, t in enumerate(graph["tensors"])}
        unsupported = sorted({name for name, *_ in graph["ops"] if name not in SUPPORTED})
        if unsupported:
            raise CheckpointError(f"{source}: unsupported TFLite operator {', '.join(unsupported)}")
        self.input_ids, self.output_ids = list(graph["inputs"]), list(graph["outputs"])
        self.input_shapes = [tensors[i][1] for i in self.input_ids]
        self.output_names = [tensors[i][0] for i in self.output_ids]
        self.ranks = {i: len(t[1]) for i, t in enumerate(tensors)}
        self.ops = nn.ModuleDict()
        self.constants = nn.Module()
        self._wiring: list[tuple[str, list[int], list[int]]] = []
        self._lookup: dict[int, str] = {}
        known = set(self.input_ids)
        for index, (name, ins, outs, options) in enumerate(graph["ops"]):
            if name == "DEQUANTIZE" and ins and values.get(ins[0]) is not None:
                values[outs[0]] = values[ins[0]].astype(np.float32)  # float16 weights: fold once
                continue
            try:
                op = TFLiteOp.create(name, [(tensors[i][1], values.get(i)) for i in ins if i >= 0],
                                     [tensors[o][1] for o in outs], options)
            except UnsupportedOperator as exc:
                raise CheckpointError(f"{source}: unsupported TFLite {exc} (operator {index})") from None
            except (IndexError, KeyError, ValueError, TypeError) as exc:  # shapes that do not fit the operator
                raise CheckpointError(f"{source}: operator {index} ({name}) does not fit its tensors "
                                      f"(corrupt file?): {type(exc).__name__}: {exc}".splitlines()[0]) from None
            key = f"{name}_{index}"
            used = [i for slot, i in enumerate(ins) if i >= 0 and slot in op.runtime_inputs(len(ins))]
            for i in used:
                if values.get(i) is None and i not in known:
                    raise CheckpointError(f"{source}: input {tensors[i][0]!r} of operator {key} is never "
                                          "computed (truncated file, or operators out of order)")
                if values.get(i) is not None and i not in self._lookup:
                    self._add_constant(i, values[i])
            self.ops[key] = op
            self._wiring.append((key, used, outs))
            known.update(outs)
        for i in self.output_ids:
            if i not in known and values.get(i) is None:
                raise CheckpointError(f"{source}: graph output {tensors[i][0]!r} is never computed")
            if i not in known:
                self._add_constant(i, values[i])
        self._release = self._release_plan()

    def _add_constant(self, index: int, array: np.ndarray) -> None:
        tensor = _channels_last(to_stored(torch.from_numpy(np.array(array, copy=True)), array.ndim))
        self.constants.register_buffer(f"t{index}", tensor)
        self._lookup[index] = f"t{index}"

    def _release_plan(self) -> list[list[int]]:
        last: dict[int, int] = {}
        for n, (_, ins, _) in enumerate(self._wiring):
            for i in ins:
                if i not in self._lookup:
                    last[i] = n
        plan: list[list[int]] = [[] for _ in self._wiring]
        for i, n in last.items():
            if i not in self.output_ids:
                plan[n].append(i)
        return plan

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.input_ids):
            raise ValueError(f"expected {len(self.input_ids)} inputs, got {len(inputs)}")
        values = {i: _channels_last(to_stored(x, self.ranks[i])) for i, x in zip(self.input_ids, inputs)}
        for i, key in self._lookup.items():
            values[i] = getattr(self.constants, key)
        for (key, ins, outs), release in zip(self._wiring, self._release):
            values[outs[0]] = self.ops[key](*(values[i] for i in ins))
            for i in release:
                del values[i]
        out = tuple(to_semantic(values[i], self.ranks[i]) for i in self.output_ids)
        return out[0] if len(out) == 1 else out


def convert_tflite(source: bytes | str | Path) -> TFLiteModule:
    """The module for a TFLite model given as bytes or a path (see the module example)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return TFLiteModule(read_tflite(bytes(source)))
    path = check_weights_file(source, "TFLite file")
    return TFLiteModule(read_tflite(path.read_bytes(), str(path)), str(path))
