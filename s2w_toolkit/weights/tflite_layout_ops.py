"""The TFLite operators whose meaning depends on axes: PAD, RESHAPE, TRANSPOSE, CONCATENATION,
MEAN/SUM and STRIDED_SLICE, each remapping the graph's NHWC axes to the NCHW tensors that
:mod:`.tflite_ops` keeps (see there); importing :mod:`.tflite_ops` registers them.

Example:
    >>> import torch
    >>> from s2w_toolkit.weights.tflite_ops import TFLiteOp
    >>> op = TFLiteOp.create("MEAN", [((1, 2, 2, 3), None), ((1,), np.array([3], np.int32))],
    ...                      [(1, 2, 2, 1)], {"KeepDims": True})
    >>> op.dims  # the NHWC channel axis is stored axis 1
    [1]
    >>> op(torch.arange(12.0).reshape(1, 3, 2, 2))[0, 0]
    tensor([[4., 5.],
            [6., 7.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .onnx_ops import UnsupportedOperator
from .tflite_ops import TO_SEMANTIC, TO_STORED, In, TFLiteOp, _const, _stored_axis, to_semantic, to_stored

__all__ = ["Pad", "Reshape", "Transpose", "Concatenation", "Reduce", "StridedSlice"]

class Pad(TFLiteOp):
    """PAD with zeros; the (rank, 2) paddings are remapped to the stored axes.

    Example:
        >>> pads = np.array([[0, 0], [0, 0], [0, 0], [0, 2]], np.int32)  # two more channels
        >>> op = TFLiteOp.create("PAD", [((1, 2, 2, 1), None), (pads.shape, pads)], [(1, 2, 2, 3)], {})
        >>> op(torch.ones(1, 1, 2, 2)).shape
        torch.Size([1, 3, 2, 2])
    """

    runtime_slots = (0,)
    op_names = ("PAD", "PADV2")

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        pads = _const(ins, 1, "padding", name).reshape(-1, 2).tolist()
        order = TO_STORED if self.in_ranks[0] == 4 else range(self.in_ranks[0])
        self.pads = [int(p) for axis in reversed(list(order)) for p in pads[axis]]
        self.value = float(_const(ins, 2, "pad value", name).reshape(-1)[0]) if len(ins) > 2 else 0.0

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, value=self.value)


class Reshape(TFLiteOp):
    """RESHAPE (and SQUEEZE, EXPAND_DIMS) to the declared output shape, in NHWC order; a leading
    batch axis declared equal on both sides follows the input's batch.

    Example:
        >>> op = TFLiteOp.create("RESHAPE", [((1, 1, 2, 3), None)], [(1, 6)], {})
        >>> op(torch.arange(6.0).reshape(1, 2, 3).permute(0, 2, 1)[:, :, None])  # stored NCHW
        tensor([[0., 1., 2., 3., 4., 5.]])
    """

    runtime_slots = (0,)
    op_names = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        self.shape = tuple(outs[0])
        self.batched = bool(self.shape) and bool(ins[0][0]) and ins[0][0][0] == self.shape[0]

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], *self.shape[1:]) if self.batched else self.shape
        return to_stored(to_semantic(x, self.in_ranks[0]).reshape(shape), self.out_rank)


class Transpose(TFLiteOp):
    """TRANSPOSE by a constant NHWC permutation, done as one permute of the stored tensor.

    Example:
        >>> perm = np.array([0, 1, 3, 2], np.int32)
        >>> op = TFLiteOp.create("TRANSPOSE", [((1, 1, 4, 2), None), ((4,), perm)], [(1, 1, 2, 4)], {})
        >>> op.perm
        (0, 3, 2, 1)
    """

    runtime_slots = (0,)
    op_name = "TRANSPOSE"

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        perm = [int(p) % self.in_ranks[0] for p in _const(ins, 1, "permutation", name).reshape(-1)]
        sem = [TO_SEMANTIC[p] for p in perm] if self.in_ranks[0] == 4 else perm  # stored -> out semantic
        self.perm = tuple(sem[j] for j in TO_STORED) if self.out_rank == 4 else tuple(sem)

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return x.permute(self.perm)


class Concatenation(TFLiteOp):
    """CONCATENATION along a remapped axis, with its fused activation.

    Example:
        >>> op = TFLiteOp.create("CONCATENATION", [((1, 3), None), ((1, 2), None)], [(1, 5)],
        ...                      {"Axis": 1, "FusedActivationFunction": 1})
        >>> op(-torch.ones(1, 3), torch.ones(1, 2))
        tensor([[0., 0., 0., 1., 1.]])
    """

    op_name = "CONCATENATION"

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        self.dim = _stored_axis(options.get("Axis", 0), self.out_rank)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.activate(torch.cat(xs, self.dim))


class Reduce(TFLiteOp):
    """MEAN, SUM, REDUCE_MAX over constant axes, keeping them or not (``KeepDims``).

    Example:
        >>> axes = np.array([1, 2], np.int32)  # H and W of an NHWC value
        >>> op = TFLiteOp.create("MEAN", [((1, 2, 2, 3), None), ((2,), axes)], [(1, 3)], {"KeepDims": False})
        >>> op(torch.ones(1, 3, 2, 2))
        tensor([[1., 1., 1.]])
    """

    runtime_slots = (0,)
    op_names = ("MEAN", "SUM", "REDUCE_MAX")

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        rank = self.in_ranks[0]
        self.axes = sorted({int(a) % rank for a in _const(ins, 1, "axis", name).reshape(-1)})
        self.dims = [_stored_axis(a, rank) for a in self.axes]
        self.keep = bool(options.get("KeepDims", False))

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        if not self.dims:
            return x
        if self.op_name == "REDUCE_MAX":
            y = x.amax(self.dims, keepdim=True)
        else:
            y = (x.mean if self.op_name == "MEAN" else x.sum)(self.dims, keepdim=True)
        if self.keep:
            return y
        return to_stored(to_semantic(y, self.in_ranks[0]).squeeze(self.axes), self.out_rank)


class StridedSlice(TFLiteOp):
    """STRIDED_SLICE with constant begin/end/strides, positive strides, and begin, end and
    shrink-axis masks (and ``offset``); ellipsis and new-axis masks are refused.

    Example:
        >>> c = lambda *v: (np.array(v, np.int32).shape, np.array(v, np.int32))
        >>> op = TFLiteOp.create("STRIDED_SLICE", [((1, 4, 4, 2), None), c(0, 1, 0, 0), c(1, 3, 4, 2),
        ...                      c(1, 1, 2, 1)], [(1, 2, 2, 2)], {"EndMask": 0})
        >>> op.index
        (slice(0, 1, 1), slice(0, 2, 1), slice(1, 3, 1), slice(0, 4, 2))
    """

    runtime_slots = (0,)
    op_name = "STRIDED_SLICE"

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        begin, end, strides = (_const(ins, i, what, name).reshape(-1).tolist()
                               for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
        if options.get("EllipsisMask", 0) or options.get("NewAxisMask", 0):
            raise UnsupportedOperator(f"{name} with an ellipsis or new-axis mask")
        if any(s <= 0 for s in strides):
            raise UnsupportedOperator(f"{name} with a stride below 1")
        bmask, emask, shrink = (options.get(k, 0) for k in ("BeginMask", "EndMask", "ShrinkAxisMask"))
        index: list[slice | int] = []
        for i, (b, e, s) in enumerate(zip(begin, end, strides)):
            if shrink >> i & 1:
                index.append(int(b))
                continue
            b0 = None if bmask >> i & 1 else int(b)
            e0 = None if emask >> i & 1 else int(e) + (int(b) if options.get("Offset") else 0)
            index.append(slice(b0, e0, int(s)))
        index += [slice(None)] * (self.in_ranks[0] - len(index))
        self.direct = self.in_ranks[0] == 4 and not shrink
        self.index = tuple(index[j] for j in TO_STORED) if self.direct else tuple(index)

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        if self.direct:
            return x[self.index]
        return to_stored(to_semantic(x, self.in_ranks[0])[self.index], self.out_rank)
