"""PyTorch modules for the TensorFlow operators of a TFJS graph model (see :mod:`.tfjs_graph`).

As in :mod:`.tflite_ops` (whose axis-remapping operators run Pad, StridedSlice, ConcatV2 and the
reductions here), the graph's axes are NHWC while every rank-4 value is kept channels first (NCHW):
axes are remapped once, when built. A :class:`TFJSOp` is built from the node's ``op``, its inputs
(per input: the static shape, None for a size left open, and for a constant its NHWC numpy value)
and its decoded ``attrs``. Filters, axes, shapes and paddings are read when built; other constant
operands become buffers; ``forward`` takes the :attr:`TFJSOp.runtime_slots` as stored tensors.

Example:
    >>> import numpy as np, torch
    >>> w = np.ones((3, 3, 1, 2), np.float32)  # HWIO
    >>> op = TFJSOp.create("Conv2D", [((1, 5, 5, 1), None), (w.shape, w)], {"padding": "SAME"})
    >>> op.out_shape, op.runtime_slots, op.weight.shape  # the filter is OIHW
    ((1, 5, 5, 2), [0], torch.Size([2, 1, 3, 3]))
    >>> op(torch.ones(1, 1, 5, 5))[0, 0, 0]
    tensor([4., 6., 6., 6., 4.], grad_fn=<SelectBackward0>)
    >>> pool = TFJSOp.create("AvgPool", [((1, 3, 3, 1), None)],
    ...                      {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "SAME"})
    >>> pool(torch.arange(9.0).reshape(1, 1, 3, 3))  # TF pads at the end, and counts no padding
    tensor([[[[2.0000, 3.5000],
              [6.5000, 8.0000]]]])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .onnx_ops import UnsupportedOperator
from .tflite_graph import _channels_last
from .tflite_ops import TO_SEMANTIC, TFLiteOp, _align, _const, _same_pads, _stored_axis, to_semantic, to_stored

__all__ = ["TFJSOp", "SUPPORTED"]

Shape = tuple  # of int | None: a static shape, None for a size the graph leaves open
In = tuple[Shape, "np.ndarray | None"]
_ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"Relu": torch.relu, "Relu6": lambda x: x.clamp(0.0, 6.0),
                                                            "Elu": F.elu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh}


def _stored_constant(value: np.ndarray, out_rank: int) -> torch.Tensor:
    """A constant as kept: lower-rank ones reshaped to broadcast against a rank-4 result, rank 4 NCHW."""
    t = torch.from_numpy(np.array(value, copy=True))
    if out_rank == 4 and 0 < t.dim() < 4:
        t = t.reshape((1,) * (4 - t.dim()) + tuple(t.shape))
    return _channels_last(to_stored(t, t.dim()))


def _broadcast(shapes: list[Shape]) -> Shape:
    """numpy's broadcast of static shapes: a size the graph leaves open (None) broadcasts like 1."""
    known = torch.broadcast_shapes(*[tuple(1 if d is None else d for d in s) for s in shapes])
    padded = [(1,) * (len(known) - len(s)) + tuple(s) for s in shapes]
    return tuple(None if d == 1 and any(p[i] is None for p in padded) else d for i, d in enumerate(known))


class TFJSOp(nn.Module):
    """Base of every operator module, which registers itself by its ``op_types``; the
    operator's name is ``op_type``, as for :mod:`.onnx_ops` (so :mod:`~s2w_toolkit.cam` knows a Reshape).

    Example:
        >>> TFJSOp.create("Sigmoid", [((2,), None)], {})(torch.tensor([0.0, 100.0]))
        tensor([0.5000, 1.0000])
        >>> alpha = np.array([0.5, 2.0], np.float32)
        >>> prelu = TFJSOp.create("Prelu", [((1, 1, 1, 2), None), ((2,), alpha)], {})
        >>> prelu.c1.shape, prelu(-torch.ones(1, 2, 1, 1)).flatten()  # alpha kept NCHW-broadcastable
        (torch.Size([1, 2, 1, 1]), tensor([-0.5000, -2.0000]))
    """

    _types: ClassVar[dict[str, type["TFJSOp"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        TFJSOp._types.update({name: cls for name in cls.__dict__.get("op_types", ())})

    def __init__(self, op_type: str, ins: list[In], attrs: dict[str, Any]) -> None:
        super().__init__()
        self.op_type, self.attrs, self.act = op_type, attrs, None
        self.in_ranks = [len(shape) for shape, _ in ins]
        self.out_shape: Shape = tuple(ins[0][0]) if ins else ()
        self.runtime_slots: list[int] = []  # the inputs forward takes, in order
        self._layout: list[str | None] = []  # per operand: None (given at run time) or its buffer
        self.build(ins, attrs)  # each operator's: read the node, set out_shape, keep the operands

    @classmethod
    def create(cls, op_type: str, ins: list[In], attrs: dict[str, Any]) -> "TFJSOp":
        """The module for one node; :class:`UnsupportedOperator` if the operator is unknown."""
        if op_type not in cls._types:
            raise UnsupportedOperator(op_type)
        return cls._types[op_type](op_type, ins, attrs)

    def keep_operands(self, ins: list[In], out_rank: int, static: Iterable[int] = ()) -> None:
        """Keep the constant operands (inputs outside ``static``) as buffers shaped to broadcast
        against a result of rank ``out_rank``; the others are the :attr:`runtime_slots`."""
        for i, (_, value) in [(i, x) for i, x in enumerate(ins) if i not in set(static)]:
            if value is not None:
                self.register_buffer(f"c{i}", _stored_constant(value, out_rank))
            self.runtime_slots += [i] if value is None else []
            self._layout.append(None if value is None else f"c{i}")

    def operands(self, runtime: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """The operands in input order: the ``runtime`` ones and the kept constants."""
        given = iter(runtime)
        return [next(given) if key is None else getattr(self, key) for key in self._layout]

    def epilogue(self, args: list[In], attrs: dict[str, Any], out_rank: int) -> tuple[Any, Any]:
        """Read ``fused_ops`` (BiasAdd or FusedBatchNorm, then an activation) and their
        ``num_args`` constant arguments; returns (scale, bias), None where absent."""
        fused, op = list(attrs.get("fused_ops") or []), self.op_type
        if int(attrs.get("num_args", len(args))) != len(args):
            raise ValueError(f"num_args {attrs.get('num_args')} but {len(args)} fused arguments")
        values = [_const(args, i, "fused argument", op).astype(np.float32) for i in range(len(args))]
        scale = bias = None
        head = fused.pop(0) if fused and fused[0] in ("BiasAdd", "FusedBatchNorm") else None
        if head == "BiasAdd":
            bias = values.pop(0)
        elif head == "FusedBatchNorm":
            (gamma, beta, mean, var), values = values[:4], values[4:]
            scale = gamma / np.sqrt(var + np.float32(attrs.get("epsilon", 0.0)))
            bias = beta - mean * scale
        self.act, self.slope = (fused.pop(0) if fused else None), float(attrs.get("leakyrelu_alpha", 0.2))
        if fused or self.act not in (None, "Prelu", "LeakyRelu", *_ACTS):
            raise UnsupportedOperator(f"{op} with fused_ops {attrs.get('fused_ops')}")
        if self.act == "Prelu":
            self.register_buffer("alpha", _stored_constant(values.pop(0), out_rank))
        if values:
            raise ValueError(f"{len(values)} fused arguments that {attrs.get('fused_ops')} leaves unused")
        return scale, bias

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        if self.act in ("Relu", "Relu6"):  # in place: y is fresh, their gradients need only the result
            return torch.relu_(y) if self.act == "Relu" else F.hardtanh_(y, 0.0, 6.0)
        if self.act in (None, "Prelu"):
            return y if self.act is None else torch.where(y >= 0, y, y * self.alpha)
        return F.leaky_relu(y, self.slope) if self.act == "LeakyRelu" else _ACTS[self.act](y)


def _hw(op: str, attrs: dict[str, Any], key: str) -> tuple[int, int]:
    v = [int(d) for d in (attrs.get(key) or [1, 1, 1, 1])]
    if len(v) != 4 or v[0] != 1 or v[3] != 1 or min(v) < 1:
        raise UnsupportedOperator(f"{op} with {key} {v}")
    return v[1], v[2]


class _Windowed(TFJSOp):
    """The 2-D windows: strides, dilations and SAME/VALID/EXPLICIT padding, as TF pads."""

    def setup(self, attrs: dict[str, Any], kernel: tuple[int, int], dilations: bool = True) -> None:
        if attrs.get("data_format", "NHWC") != "NHWC":
            raise UnsupportedOperator(f"{self.op_type} with data_format {attrs['data_format']}")
        self.kernel, self.stride = kernel, _hw(self.op_type, attrs, "strides")
        self.dilation = _hw(self.op_type, attrs, "dilations") if dilations else (1, 1)
        padding = attrs.get("padding", "VALID")
        if padding == "EXPLICIT":
            e = [int(p) for p in attrs.get("explicit_paddings") or []]
            if len(e) != 8 or any(e[:2] + e[6:]) or min(e) < 0:
                raise UnsupportedOperator(f"{self.op_type} with explicit_paddings {e}")
            padding = tuple(e[2:6])  # top, bottom, left, right
        elif padding not in ("SAME", "VALID"):
            raise UnsupportedOperator(f"{self.op_type} with padding {padding}")
        self.padding = padding

    def spatial(self, shape: Shape, channels: int | None) -> Shape:
        out = []
        for axis, size in enumerate(shape[1:3]):
            eff = (self.kernel[axis] - 1) * self.dilation[axis] + 1
            pads = self.padding[2 * axis] + self.padding[2 * axis + 1] if isinstance(self.padding, tuple) else 0
            if size is not None and self.padding != "SAME" and size + pads < eff:
                raise ValueError(f"a window of {eff} does not fit {size + pads} px")
            out.append(None if size is None else -(-size // self.stride[axis]) if self.padding == "SAME"
                       else (size + pads - eff) // self.stride[axis] + 1)
        return (shape[0], *out, channels)

    def pad(self, x: torch.Tensor, value: float) -> tuple[torch.Tensor, tuple[int, int]]:
        """``x`` padded as TF pads it (SAME: the odd pixel at the end), or unchanged and the
        symmetric padding that the torch operator can do itself."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        if self.padding == "VALID":
            return x, (0, 0)
        if self.padding == "SAME":
            (top, bottom), (left, right) = _same_pads(x.shape[2], kh, sh, dh), _same_pads(x.shape[3], kw, sw, dw)
        else:
            top, bottom, left, right = self.padding
        if top == bottom and left == right and (value == 0.0 or (2 * top <= kh and 2 * left <= kw)):
            return x, (top, left)
        return F.pad(x.movedim(1, -1), (0, 0, left, right, top, bottom), value=value).movedim(-1, 1), (0, 0)


class _Conv(_Windowed):
    """Conv2D, DepthwiseConv2dNative and their fused forms; the HWIO (depthwise: HWCM) filter
    becomes an OIHW parameter, a FusedBatchNorm scale folded into it."""

    op_types = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        w = _const(ins, 1, "filter", self.op_type).astype(np.float32)
        if len(ins[0][0]) != 4 or w.ndim != 4 or 0 in w.shape:
            raise ValueError(f"a rank-{len(ins[0][0])} input and a rank-{w.ndim} filter")
        (kh, kw, fin, mult), cin = w.shape, ins[0][0][3]
        depthwise = "Depthwise" in self.op_type
        if cin is not None and (cin != fin if depthwise else not fin or cin % fin):
            raise ValueError(f"{cin} input channels for a filter of {fin}")
        if depthwise:
            weight, self.groups, cout = w.reshape(kh, kw, fin * mult).transpose(2, 0, 1)[:, None], fin, fin * mult
        else:
            weight, self.groups, cout = w.transpose(3, 2, 0, 1), (cin or fin) // fin, mult
        self.setup(attrs, (kh, kw))
        scale, bias = self.epilogue(ins[2:], attrs, 4)
        weight = weight if scale is None else weight * scale.reshape(-1, 1, 1, 1)
        self.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(weight)).contiguous(
            memory_format=torch.channels_last))  # NHWC in memory, like the activations
        self.bias = None if bias is None else nn.Parameter(torch.from_numpy(bias.reshape(cout).copy()))
        self.out_shape = self.spatial(ins[0][0], cout)
        self.pointwise = (kh, kw) == (1, 1) and self.stride == (1, 1) and self.groups == 1 and not (
            isinstance(self.padding, tuple) and any(self.padding))
        self.keep_operands(ins, 4, static=range(1, len(ins)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pointwise:  # a 1x1 convolution is a matrix product over channels (faster on CPU)
            y = F.linear(x.movedim(1, -1), self.weight.view(self.weight.shape[:2]), self.bias)
            return self.activate(y.movedim(-1, 1))
        x, pad = self.pad(x, 0.0)
        return self.activate(F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups))


class _Pool(_Windowed):
    """MaxPool and AvgPool (``ksize``): SAME padding never wins a max nor counts in a mean."""

    op_types = ("MaxPool", "AvgPool")

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        self.setup(attrs, _hw(self.op_type, attrs, "ksize"), dilations=False)
        self.out_shape = self.spatial(ins[0][0], ins[0][0][3])
        self.keep_operands(ins, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op_type == "MaxPool":
            x, pad = self.pad(x, float("-inf"))
            return F.max_pool2d(x, self.kernel, self.stride, pad)
        padded, pad = self.pad(x, 0.0)
        y = F.avg_pool2d(padded, self.kernel, self.stride, pad, count_include_pad=False)
        if padded is x:
            return y
        ones = self.pad(x.new_ones((1, 1, *x.shape[2:])), 0.0)[0]  # padded at the end: mean the real pixels
        return y / F.avg_pool2d(ones, self.kernel, self.stride)


class _MatMul(TFJSOp):
    """MatMul and _FusedMatMul of rank-2 values; a constant right-hand side becomes an (out, in)
    weight parameter."""

    op_types = ("MatMul", "_FusedMatMul")

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        (a, av), (b, bv) = ins[0], ins[1]
        if len(a) != 2 or len(b) != 2:
            raise UnsupportedOperator(f"{self.op_type} of rank-{len(a)} and rank-{len(b)} values")
        self.ta, self.tb = bool(attrs.get("transpose_a")), bool(attrs.get("transpose_b"))
        (rows, inner), (inner_b, cols) = a[::-1] if self.ta else a, b[::-1] if self.tb else b
        if None not in (inner, inner_b) and inner != inner_b:
            raise ValueError(f"a product of {list(a)} and {list(b)}")
        scale, bias = self.epilogue(ins[2:], attrs, 2)
        if scale is not None:
            raise UnsupportedOperator(f"{self.op_type} with FusedBatchNorm")
        fixed = bv is not None and av is None  # then an (out, in) weight
        self.weight = nn.Parameter(torch.from_numpy(np.ascontiguousarray(bv if self.tb else bv.T))) if fixed else None
        self.bias = None if bias is None else nn.Parameter(torch.from_numpy(bias.reshape(-1).copy()))
        self.out_shape = (rows, cols)
        self.keep_operands(ins, 2, static=range(1 if fixed else 2, len(ins)))

    def forward(self, *runtime: torch.Tensor) -> torch.Tensor:
        xs = self.operands(runtime)
        a = xs[0].t() if self.ta else xs[0]
        if self.weight is not None:
            return self.activate(F.linear(a, self.weight, self.bias))
        y = a @ (xs[1].t() if self.tb else xs[1])
        return self.activate(y if self.bias is None else y + self.bias)


_BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Add": torch.add, "AddV2": torch.add, "BiasAdd": torch.add, "Sub": torch.sub, "Mul": torch.mul,
    "RealDiv": torch.div, "Div": torch.div, "Maximum": torch.maximum, "Minimum": torch.minimum,
    "SquaredDifference": lambda a, b: (a - b).square(), "Pow": torch.pow,
    "Prelu": lambda x, alpha: torch.where(x >= 0, x, x * alpha)}
_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    **_ACTS, "Identity": lambda x: x, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt, "Square": torch.square,
    "Neg": torch.neg, "Exp": torch.exp, "Log": torch.log, "Abs": torch.abs, "Softplus": F.softplus}


class _Elementwise(TFJSOp):
    """The unary operators (LeakyRelu with its ``alpha``; Softmax and LogSoftmax over the last
    axis), and the binary ones and AddN, which broadcast as numpy does (BiasAdd: NHWC only)."""

    op_types = (*_BINARY, *_UNARY, "LeakyRelu", "AddN", "Softmax", "LogSoftmax")

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        if len(ins) != (2 if self.op_type in _BINARY else len(ins) if self.op_type == "AddN" else 1) or not ins:
            raise ValueError(f"{len(ins)} inputs")
        if self.op_type == "BiasAdd" and attrs.get("data_format", "NHWC") != "NHWC":
            raise UnsupportedOperator(f"BiasAdd with data_format {attrs['data_format']}")
        self.slope = float(attrs.get("alpha", 0.2))
        self.out_shape = _broadcast([shape for shape, _ in ins])
        rank = len(self.out_shape)
        self.dim = _stored_axis(-1, rank)  # Softmax's
        self.aligned = [rank == 4 and 0 < len(s) < 4 and v is None for s, v in ins]
        self.keep_operands(ins, rank)

    def forward(self, *runtime: torch.Tensor) -> torch.Tensor:
        xs = [_align(x, r, 4) if a else x for x, r, a in zip(self.operands(runtime), self.in_ranks, self.aligned)]
        if self.op_type in ("Softmax", "LogSoftmax"):
            return (torch.softmax if self.op_type == "Softmax" else torch.log_softmax)(xs[0], self.dim)
        if self.op_type in ("AddN", "LeakyRelu"):
            return sum(xs[1:], xs[0]) if self.op_type == "AddN" else F.leaky_relu(xs[0], self.slope)
        return _UNARY[self.op_type](xs[0]) if len(xs) == 1 else _BINARY[self.op_type](xs[0], xs[1])


_AS_TFLITE = {"Pad": "PAD", "PadV2": "PADV2", "StridedSlice": "STRIDED_SLICE", "ConcatV2": "CONCATENATION",
              "Mean": "MEAN", "Sum": "SUM", "Max": "REDUCE_MAX"}
_MASKS = {"BeginMask": "begin_mask", "EndMask": "end_mask", "ShrinkAxisMask": "shrink_axis_mask"}


class _AsTFLite(TFJSOp):
    """Pad, PadV2, StridedSlice (no ellipsis or new-axis mask), ConcatV2, Mean, Sum and Max: run by
    the TFLite operator of the same meaning (:mod:`.tflite_layout_ops`), which remaps axes alike."""

    op_types = tuple(_AS_TFLITE)

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        op, shape, rank = self.op_type, ins[0][0], self.in_ranks[0]
        static = {len(ins) - 1} if op == "ConcatV2" else set(range(1, len(ins)))
        options = {"KeepDims": bool(attrs.get("keep_dims")), **{k: int(attrs.get(a, 0)) for k, a in _MASKS.items()}}
        if op == "ConcatV2":
            shapes, axis = [s for s, _ in ins[:-1]], int(_const(ins, len(ins) - 1, "axis", op).reshape(-1)[0])
            if not shapes or any(len(s) != rank for s in shapes):
                raise ValueError(f"a concatenation of {[list(s) for s in shapes]}")
            axis = options["Axis"] = axis % rank
            size = None if any(s[axis] is None for s in shapes) else sum(s[axis] for s in shapes)
            out = tuple(size if i == axis else d for i, d in enumerate(shape))
        elif op.startswith("Pad"):
            pads = _const(ins, 1, "padding", op).reshape(-1, 2).tolist()
            if len(pads) != rank or min(min(pads, default=[0])) < 0:
                raise ValueError(f"paddings {pads} for a rank-{rank} value")
            out = tuple(None if d is None else d + sum(p) for d, p in zip(shape, pads))
        elif op == "StridedSlice":
            if attrs.get("ellipsis_mask") or attrs.get("new_axis_mask") or min(_const(ins, 3, "strides", op)) < 1:
                raise UnsupportedOperator(f"{op} with an ellipsis or new-axis mask, or a stride below 1")
            out = (None,) * (rank - bin(options["ShrinkAxisMask"] % (1 << rank)).count("1"))
        else:
            axes = {int(a) % max(rank, 1) for a in _const(ins, 1, "axis", op).reshape(-1)}
            out = tuple(1 if i in axes else d for i, d in enumerate(shape) if options["KeepDims"] or i not in axes)
        data = [x for i, x in enumerate(ins) if not (op == "ConcatV2" and i in static)]  # less ConcatV2's axis
        self.inner = TFLiteOp.create(_AS_TFLITE[op], data, [out], options)
        if op == "StridedSlice":  # its output's sizes: the slices of the known sizes
            index = self.inner.index if not self.inner.direct else tuple(self.inner.index[j] for j in TO_SEMANTIC)
            out = tuple(None if d is None else len(range(*ix.indices(d))) for ix, d in zip(index, shape)
                        if isinstance(ix, slice))
        self.out_shape = out
        self.keep_operands(ins, rank, static)

    def forward(self, *runtime: torch.Tensor) -> torch.Tensor:
        return self.inner(*self.operands(runtime))


class _Reshape(TFJSOp):
    """Reshape to a constant shape (a -1 resolved at run time) and Squeeze, on the NHWC view."""

    op_types = ("Reshape", "Squeeze")

    def build(self, ins: list[In], attrs: dict[str, Any]) -> None:
        shape, rank, op = ins[0][0], self.in_ranks[0], self.op_type
        if op == "Reshape":
            self.target = [int(d) for d in _const(ins, 1, "shape", op).reshape(-1)]
            known, total = math.prod(d for d in self.target if d != -1), None if None in shape else math.prod(shape)
            if self.target.count(-1) > 1 or min(self.target, default=0) < -1 or total is not None and (
                    total % max(known, 1) if -1 in self.target else total != known):
                raise ValueError(f"a reshape of {list(shape)} to {self.target}")
            self.out_shape = tuple(total // known if d == -1 and total is not None and known else None if d == -1
                                   else d for d in self.target)
        elif op == "Squeeze":
            self.dims = sorted({int(a) % rank for a in attrs.get("squeeze_dims") or []})
            if not self.dims and None in shape or any(shape[i] not in (1, None) for i in self.dims):
                raise UnsupportedOperator(f"Squeeze of axes {self.dims or 'of size 1'} of a {list(shape)} value")
            self.dims = self.dims or [i for i, d in enumerate(shape) if d == 1]
            self.out_shape = tuple(d for i, d in enumerate(shape) if i not in self.dims)
        self.keep_operands(ins, rank, static=(1,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_semantic(x, self.in_ranks[0])
        y = x.reshape(self.target) if self.op_type == "Reshape" else x.squeeze(tuple(self.dims))
        return to_stored(y, len(self.out_shape))


#: The TensorFlow operators the converter handles (graph inputs and constants included).
SUPPORTED = frozenset({*TFJSOp._types, "Const", "Placeholder"})
