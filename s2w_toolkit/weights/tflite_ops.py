"""PyTorch modules for the TFLite builtin operators that MediaPipe's face models use.

A TFLite graph is NHWC; the modules here keep every rank-4 value *channels first* (NCHW) and
every other value as declared. "Semantic" axes are the graph's (NHWC); "stored" axes are the
tensor's: stored axis ``j`` of a rank-4 value is semantic axis ``TO_STORED[j]``. (In memory a
rank-4 value is channels_last, where CPU convolutions are fastest; that changes no result.)
Operators whose meaning depends on axes (RESHAPE, TRANSPOSE, CONCATENATION, MEAN, SUM, PAD,
STRIDED_SLICE, in :mod:`.tflite_layout_ops`) remap them once, when built; only RESHAPE and a
rank-changing STRIDED_SLICE or MEAN permute at run time.

Each operator is a :class:`TFLiteOp` built from ``ins`` (per input: declared shape and, for a
constant, its semantic numpy value), the declared output shapes and the options table as a dict
(``{"Padding": 0, "StrideW": 2, ...}``); ``forward`` takes, as stored tensors, the inputs that
:meth:`TFLiteOp.runtime_inputs` names (filters, axes, shapes and paddings are read when built).

Example:
    >>> import numpy as np, torch
    >>> op = TFLiteOp.create("CONCATENATION", [((1, 2, 2, 3), None), ((1, 2, 2, 1), None)],
    ...                      [(1, 2, 2, 4)], {"Axis": -1, "FusedActivationFunction": 0})
    >>> op.dim  # the NHWC channel axis is axis 1 of the stored NCHW tensors
    1
    >>> op(torch.zeros(1, 3, 2, 2), torch.ones(1, 1, 2, 2)).shape
    torch.Size([1, 4, 2, 2])
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .onnx_ops import UnsupportedOperator

__all__ = ["TFLiteOp", "SUPPORTED", "TO_STORED", "TO_SEMANTIC", "to_stored", "to_semantic"]

TO_STORED = (0, 3, 1, 2)  # NHWC -> NCHW
TO_SEMANTIC = (0, 2, 3, 1)  # NCHW -> NHWC
In = tuple[tuple[int, ...], "np.ndarray | None"]  # an input's declared shape, constant value


def to_stored(x: torch.Tensor, rank: int) -> torch.Tensor:
    """A value in the graph's layout as this module keeps it (rank 4: NHWC -> NCHW).

    Example:
        >>> to_stored(torch.zeros(1, 5, 6, 3), 4).shape
        torch.Size([1, 3, 5, 6])
    """
    return x.permute(TO_STORED) if rank == 4 else x


def to_semantic(x: torch.Tensor, rank: int) -> torch.Tensor:
    """The inverse of :func:`to_stored`.

    Example:
        >>> to_semantic(torch.zeros(1, 3, 5, 6), 4).shape
        torch.Size([1, 5, 6, 3])
    """
    return x.permute(TO_SEMANTIC) if rank == 4 else x


def _stored_axis(axis: int, rank: int) -> int:
    axis %= max(rank, 1)
    return TO_STORED.index(axis) if rank == 4 else axis


def _align(x: torch.Tensor, rank: int, out_rank: int) -> torch.Tensor:
    """A lower-rank stored operand shaped to broadcast against a rank-4 stored result."""
    if out_rank == 4 and rank < 4:
        return x.reshape((1,) * (4 - rank) + tuple(x.shape)).permute(TO_STORED)
    return x


_ACTIVATIONS: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {
    1: torch.relu, 2: lambda x: x.clamp(-1.0, 1.0), 3: lambda x: x.clamp(0.0, 6.0), 4: torch.tanh}


class TFLiteOp(nn.Module):
    """Base of every operator module; subclasses register themselves by ``op_name``.

    Example:
        >>> op = TFLiteOp.create("LOGISTIC", [((2,), None)], [(2,)], {})
        >>> op(torch.tensor([0.0, 100.0]))
        tensor([0.5000, 1.0000])
        >>> TFLiteOp.create("HARD_SWISH", [((2,), None)], [(2,)], {})
        Traceback (most recent call last):
        ...
        s2w_toolkit.weights.onnx_ops.UnsupportedOperator: HARD_SWISH
    """

    op_name: ClassVar[str] = ""
    runtime_slots: ClassVar[tuple[int, ...] | None] = None  # the inputs forward takes; None: all
    _types: ClassVar[dict[str, type["TFLiteOp"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.__dict__.get("op_names", (cls.__dict__.get("op_name"),)):
            if name:
                TFLiteOp._types[name] = cls

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__()
        self.op_name, self.options = name, options
        self.in_ranks = [len(shape) for shape, _ in ins]
        self.out_rank = len(outs[0])
        code = options.get("FusedActivationFunction", 0)
        if code and code not in _ACTIVATIONS:
            raise UnsupportedOperator(f"{name} fused activation {code}")
        self.act = _ACTIVATIONS.get(code)

    @classmethod
    def create(cls, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> "TFLiteOp":
        """The module for one operator; :class:`UnsupportedOperator` if the name is unknown."""
        if name not in cls._types:
            raise UnsupportedOperator(name)
        return cls._types[name](name, ins, outs, options)

    def runtime_inputs(self, n: int) -> tuple[int, ...]:
        """Which of the operator's ``n`` inputs ``forward`` takes (the others are read at build)."""
        return tuple(range(n)) if self.runtime_slots is None else self.runtime_slots

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.act is None else self.act(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items())


def _const(ins: list[In], i: int, what: str, name: str) -> np.ndarray:
    if i >= len(ins) or ins[i][1] is None:
        raise UnsupportedOperator(f"{name} with a computed {what}")
    return ins[i][1]


def _same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) of one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Windowed(TFLiteOp):
    """Shared SAME/VALID padding of the 2-D windowed operators."""

    def _check(self) -> None:
        if min(self.stride) < 1 or min(self.dilation) < 1:
            raise UnsupportedOperator(f"{self.op_name} with stride {self.stride} and dilation {self.dilation}")

    def _pad(self, x: torch.Tensor, kh: int, kw: int, value: float) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.options.get("Padding", 1) != 0:  # VALID
            return x, (0, 0)
        sh, sw = self.stride
        top, bottom = _same_pads(x.shape[2], kh, sh, self.dilation[0])
        left, right = _same_pads(x.shape[3], kw, sw, self.dilation[1])
        if top == bottom and left == right and (value == 0.0 or (2 * top <= kh and 2 * left <= kw)):
            return x, (top, left)
        return F.pad(x, (left, right, top, bottom), value=value), (0, 0)


class Conv2D(_Windowed):
    """CONV_2D and DEPTHWISE_CONV_2D: an OHWI (or 1HWC) filter, stored OIHW, and optional bias.

    Example:
        >>> w = np.ones((2, 3, 3, 1), np.float32)
        >>> op = TFLiteOp.create("CONV_2D", [((1, 5, 5, 1), None), (w.shape, w)], [(1, 5, 5, 2)],
        ...                      {"Padding": 0, "StrideH": 1, "StrideW": 1})
        >>> op(torch.ones(1, 1, 5, 5))[0, 0, 0]
        tensor([4., 6., 6., 6., 4.], grad_fn=<SelectBackward0>)
    """

    runtime_slots = (0,)
    op_names = ("CONV_2D", "DEPTHWISE_CONV_2D")

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        w = _const(ins, 1, "filter", name).astype(np.float32)
        self.groups = 1
        if name == "DEPTHWISE_CONV_2D":
            self.groups = ins[0][0][3]
            w = w.transpose(3, 0, 1, 2)  # (1, kh, kw, C*M) -> (C*M, 1, kh, kw)
        else:
            self.groups = ins[0][0][3] // w.shape[3]  # grouped CONV_2D
            w = w.transpose(0, 3, 1, 2)
        weight = torch.from_numpy(np.ascontiguousarray(w)).contiguous(memory_format=torch.channels_last)
        self.weight = nn.Parameter(weight)  # NHWC in memory, like the activations (see tflite_graph)
        has_bias = len(ins) > 2 and ins[2][1] is not None
        self.bias = nn.Parameter(torch.from_numpy(ins[2][1].astype(np.float32).copy())) if has_bias else None
        self.stride = (options.get("StrideH", 1), options.get("StrideW", 1))
        self.dilation = (options.get("DilationHFactor", 1), options.get("DilationWFactor", 1))
        self._check()
        self.pointwise = tuple(w.shape[2:]) == (1, 1) and self.stride == (1, 1) and self.groups == 1

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        if self.pointwise:  # a 1x1 convolution is a matrix product over channels (faster on CPU)
            y = F.linear(x.movedim(1, -1), self.weight.view(self.weight.shape[:2]), self.bias)
            return self.activate(y.movedim(-1, 1))
        x, pad = self._pad(x, self.weight.shape[2], self.weight.shape[3], 0.0)
        y = F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)
        return self.activate(y)


class MaxPool2D(_Windowed):
    """MAX_POOL_2D; SAME padding never wins the max.

    Example:
        >>> op = TFLiteOp.create("MAX_POOL_2D", [((1, 3, 3, 1), None)], [(1, 2, 2, 1)],
        ...     {"Padding": 0, "StrideH": 2, "StrideW": 2, "FilterHeight": 2, "FilterWidth": 2})
        >>> op(torch.arange(9.0).reshape(1, 1, 3, 3) - 9)  # padded below and right
        tensor([[[[-5., -4.],
                  [-2., -1.]]]])
    """

    op_name = "MAX_POOL_2D"

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        self.kernel = (options.get("FilterHeight", 1), options.get("FilterWidth", 1))
        self.stride = (options.get("StrideH", 1), options.get("StrideW", 1))
        self.dilation = (1, 1)
        self._check()
        if min(self.kernel) < 1:
            raise UnsupportedOperator(f"{name} with filter {self.kernel}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, pad = self._pad(x, *self.kernel, float("-inf"))
        return self.activate(F.max_pool2d(x, self.kernel, self.stride, pad))


_BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul, "DIV": torch.div,
    "SQUARED_DIFFERENCE": lambda a, b: (a - b).square()}
_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "LOGISTIC": torch.sigmoid, "RELU": torch.relu, "SQRT": torch.sqrt, "RSQRT": torch.rsqrt,
    "NEG": torch.neg, "DEQUANTIZE": lambda x: x.float(), "RELU6": lambda x: x.clamp(0.0, 6.0),
    "TANH": torch.tanh}


class Elementwise(TFLiteOp):
    """The unary and broadcasting binary operators (with their fused activation).

    Example:
        >>> op = TFLiteOp.create("ADD", [((1, 2, 2, 3), None), ((3,), None)], [(1, 2, 2, 3)], {})
        >>> op(torch.zeros(1, 3, 2, 2), torch.tensor([1.0, 2.0, 3.0]))[0, :, 0, 0]
        tensor([1., 2., 3.])
    """

    op_names = tuple(_BINARY) + tuple(_UNARY)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if len(xs) == 1:
            return self.activate(_UNARY[self.op_name](xs[0]))
        a, b = (_align(x, r, self.out_rank) for x, r in zip(xs, self.in_ranks))
        return self.activate(_BINARY[self.op_name](a, b))


class PRelu(TFLiteOp):
    """PRELU: ``x`` where it is not negative, else ``alpha * x`` (alpha broadcasts).

    Example:
        >>> op = TFLiteOp.create("PRELU", [((1, 1, 1, 2), None), ((1, 1, 2), None)], [(1, 1, 1, 2)], {})
        >>> op(torch.tensor([-1.0, -1.0]).reshape(1, 2, 1, 1), torch.tensor([[[0.5, 2.0]]])).flatten()
        tensor([-0.5000, -2.0000])
    """

    op_name = "PRELU"

    def __init__(self, name: str, ins: list[In], outs: list[tuple[int, ...]], options: dict[str, Any]) -> None:
        super().__init__(name, ins, outs, options)
        alpha = ins[1][0]
        self.per_channel = self.out_rank == 4 and all(d == 1 for d in alpha[:-1]) and len(alpha) >= 1

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        if self.per_channel and alpha.numel() == x.shape[1]:
            return F.prelu(x, alpha.reshape(-1))
        alpha = _align(alpha, self.in_ranks[1], self.out_rank)
        return torch.where(x >= 0, x, alpha * x)


#: The TFLite builtin operator names the converter handles (those of
#: :mod:`.tflite_layout_ops` included).
SUPPORTED = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", *_BINARY, *_UNARY, "PRELU", "PAD", "PADV2", "RESHAPE",
    "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "CONCATENATION", "MEAN", "SUM", "REDUCE_MAX", "STRIDED_SLICE"})

from . import tflite_layout_ops  # noqa: E402,F401  (registers the axis-remapping operators)
