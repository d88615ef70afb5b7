"""PyTorch modules for the ONNX operators that face embedders use.

Each operator is a small ``nn.Module`` subclass of :class:`OnnxOp` named by its ``op_type``;
its attributes are read and checked once, when the graph is converted, and its ``forward``
takes the node's inputs as tensors (``None`` for an omitted optional input). Semantics follow
the ONNX operator specification; :data:`SUPPORTED` lists the operator types.

Example:
    >>> import torch
    >>> op = OnnxOp.create("LeakyRelu", {"alpha": 0.5}, opset=18)
    >>> op(torch.tensor([-2.0, 3.0]))
    tensor([-1.,  3.])
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OnnxOp", "SUPPORTED", "UnsupportedOperator"]


class UnsupportedOperator(ValueError):
    """An operator type, or an attribute value of a supported one, that the converter lacks.

    Example:
        >>> OnnxOp.create("Resize", {}, opset=18)
        Traceback (most recent call last):
        ...
        s2w_toolkit.weights.onnx_ops.UnsupportedOperator: Resize
        >>> OnnxOp.create("Pad", {"mode": "foo"}, opset=18)
        Traceback (most recent call last):
        ...
        s2w_toolkit.weights.onnx_ops.UnsupportedOperator: Pad mode=foo
    """


class OnnxOp(nn.Module):
    """Base of every operator module; subclasses register themselves by ``op_type``.

    Example:
        >>> op = OnnxOp.create("Gemm", {"transB": 1}, opset=18)  # the registered class for the type
        >>> op, type(op).__name__, op.attrs, op.opset, "Gemm" in SUPPORTED
        (Gemm(transB=1), 'Gemm', {'transB': 1}, 18, True)
    """

    op_type: ClassVar[str] = ""
    _types: ClassVar[dict[str, type["OnnxOp"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "op_type" in cls.__dict__:  # shared bases such as _Windowed define none
            OnnxOp._types[cls.op_type] = cls

    def __init__(self, attrs: dict[str, Any], opset: int) -> None:
        super().__init__()
        self.attrs = attrs
        self.opset = opset

    @classmethod
    def create(cls, op_type: str, attrs: dict[str, Any], opset: int) -> "OnnxOp":
        """The module for one node; :class:`UnsupportedOperator` if the type is unknown."""
        if op_type not in cls._types:
            raise UnsupportedOperator(op_type)
        return cls._types[op_type](attrs, opset)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.attrs.items())


def _pairs(pads: list[int], spatial: int) -> list[tuple[int, int]]:
    """ONNX pads ``[b1..bn, e1..en]`` as per-axis (begin, end)."""
    pads = list(pads) or [0] * (2 * spatial)
    return list(zip(pads[:spatial], pads[spatial:]))


def _torch_pad(pairs: list[tuple[int, int]]) -> list[int]:
    """Per-axis (begin, end), first axis first, in F.pad's order (last axis first)."""
    return [p for begin, end in reversed(pairs) for p in (begin, end)]


def _same_pads(size: list[int], kernel: list[int], strides: list[int], dilations: list[int],
               upper: bool) -> list[tuple[int, int]]:
    pairs = []
    for n, k, s, d in zip(size, kernel, strides, dilations):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        pairs.append((small, total - small) if upper else (total - small, small))
    return pairs


class _Windowed(OnnxOp):
    """Shared attribute handling of Conv and the pools: kernel, strides, dilations, pads."""

    def __init__(self, attrs: dict[str, Any], opset: int) -> None:
        super().__init__(attrs, opset)
        self.auto_pad = attrs.get("auto_pad", b"NOTSET")
        if isinstance(self.auto_pad, bytes):
            self.auto_pad = self.auto_pad.decode()
        if self.auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
            raise UnsupportedOperator(f"{self.op_type} auto_pad={self.auto_pad}")

    def pad_pairs(self, x: torch.Tensor, kernel: list[int]) -> list[tuple[int, int]]:
        spatial = x.dim() - 2
        strides = list(self.attrs.get("strides", [1] * spatial))
        dilations = list(self.attrs.get("dilations", [1] * spatial))
        if self.auto_pad == "VALID":
            return [(0, 0)] * spatial
        if self.auto_pad.startswith("SAME"):
            return _same_pads(list(x.shape[2:]), kernel, strides, dilations, self.auto_pad == "SAME_UPPER")
        return _pairs(self.attrs.get("pads", []), spatial)


class Conv(_Windowed):
    """ONNX Conv (1-D to 3-D): ``strides``, ``dilations``, ``group``, explicit ``pads`` or ``auto_pad``;
    the bias input is optional.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("Conv", {"strides": [2, 2]}, opset=18)
        >>> op(torch.arange(16.0).reshape(1, 1, 4, 4), torch.ones(1, 1, 2, 2))  # sums of 2x2 windows
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """

    op_type = "Conv"

    def forward(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        spatial = x.dim() - 2
        conv = (F.conv1d, F.conv2d, F.conv3d)[spatial - 1]
        pairs = self.pad_pairs(x, list(w.shape[2:]))
        padding = [begin for begin, _ in pairs]
        if any(begin != end for begin, end in pairs):
            x, padding = F.pad(x, _torch_pad(pairs)), [0] * spatial
        return conv(x, w, b, list(self.attrs.get("strides", [1] * spatial)), padding,
                    list(self.attrs.get("dilations", [1] * spatial)), self.attrs.get("group", 1))


class BatchNormalization(OnnxOp):
    """ONNX BatchNormalization in inference mode: ``(x - mean) / sqrt(var + epsilon) * scale + bias``
    per channel (axis 1); ``training_mode=1`` is refused.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("BatchNormalization", {"epsilon": 0.0}, opset=18)
        >>> x, scale, bias, mean, var = (torch.tensor(v) for v in ([[3.0], [5.0]], [1.0], [0.0], [1.0], [4.0]))
        >>> op(x, scale, bias, mean, var)  # (x - 1) / sqrt(4)
        tensor([[1.],
                [2.]])
    """

    op_type = "BatchNormalization"

    def __init__(self, attrs: dict[str, Any], opset: int) -> None:
        super().__init__(attrs, opset)
        if attrs.get("training_mode", 0):
            raise UnsupportedOperator("BatchNormalization training_mode=1")

    def forward(self, x, scale, bias, mean, var):
        eps = self.attrs.get("epsilon", 1e-5)
        return F.batch_norm(x, mean.detach(), var.detach(), scale, bias, False, 0.0, eps)


class PRelu(OnnxOp):
    """ONNX PRelu: ``x`` where it is not negative, else ``slope * x`` (``slope`` broadcasts).

    Example:
        >>> import torch
        >>> OnnxOp.create("PRelu", {}, opset=18)(torch.tensor([-2.0, 3.0]), torch.tensor([0.25]))
        tensor([-0.5000,  3.0000])
    """

    op_type = "PRelu"

    def forward(self, x, slope):
        return torch.where(x < 0, x * slope, x)


class Relu(OnnxOp):
    """ONNX Relu: ``max(x, 0)``.

    Example:
        >>> import torch
        >>> OnnxOp.create("Relu", {}, opset=18)(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """

    op_type = "Relu"

    def forward(self, x):
        return F.relu(x)


class LeakyRelu(OnnxOp):
    """ONNX LeakyRelu: ``x`` where it is not negative, else ``alpha * x`` (``alpha`` defaults to 0.01).

    Example:
        >>> import torch
        >>> OnnxOp.create("LeakyRelu", {}, opset=18)(torch.tensor([-100.0, 1.0]))
        tensor([-1.,  1.])
    """

    op_type = "LeakyRelu"

    def forward(self, x):
        return F.leaky_relu(x, self.attrs.get("alpha", 0.01))


class Sigmoid(OnnxOp):
    """ONNX Sigmoid: ``1 / (1 + exp(-x))``.

    Example:
        >>> import torch
        >>> OnnxOp.create("Sigmoid", {}, opset=18)(torch.tensor([0.0]))
        tensor([0.5000])
    """

    op_type = "Sigmoid"

    def forward(self, x):
        return torch.sigmoid(x)


class Add(OnnxOp):
    """ONNX Add: ``a + b``, broadcasting.

    Example:
        >>> import torch
        >>> OnnxOp.create("Add", {}, opset=18)(torch.tensor([1, 2]), torch.tensor(10))
        tensor([11, 12])
    """

    op_type = "Add"

    def forward(self, a, b):
        return a + b


class Sub(OnnxOp):
    """ONNX Sub: ``a - b``, broadcasting.

    Example:
        >>> import torch
        >>> OnnxOp.create("Sub", {}, opset=18)(torch.tensor([5.0, 3.0]), torch.tensor([1.0, 4.0]))
        tensor([ 4., -1.])
    """

    op_type = "Sub"

    def forward(self, a, b):
        return a - b


class Mul(OnnxOp):
    """ONNX Mul: ``a * b``, broadcasting.

    Example:
        >>> import torch
        >>> OnnxOp.create("Mul", {}, opset=18)(torch.tensor([[1.0], [2.0]]), torch.tensor([3.0, 4.0]))
        tensor([[3., 4.],
                [6., 8.]])
    """

    op_type = "Mul"

    def forward(self, a, b):
        return a * b


class Div(OnnxOp):
    """ONNX Div: ``a / b``, broadcasting; integer tensors divide truncating towards zero, as in ONNX.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("Div", {}, opset=18)
        >>> op(torch.tensor([7.0, -7.0]), torch.tensor(2.0)), op(torch.tensor([7, -7]), torch.tensor(2))
        (tensor([ 3.5000, -3.5000]), tensor([ 3, -3]))
    """

    op_type = "Div"

    def forward(self, a, b):
        if a.is_floating_point():
            return a / b
        return torch.div(a, b, rounding_mode="trunc")


class MatMul(OnnxOp):
    """ONNX MatMul: the matrix product ``a @ b`` (batched and broadcast as in numpy).

    Example:
        >>> import torch
        >>> OnnxOp.create("MatMul", {}, opset=18)(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0], [4.0]]))
        tensor([[11.]])
    """

    op_type = "MatMul"

    def forward(self, a, b):
        return torch.matmul(a, b)


class Gemm(OnnxOp):
    """ONNX Gemm: ``alpha * A' @ B' + beta * C``, where ``A'`` and ``B'`` are transposed when ``transA``
    and ``transB`` are set; ``C`` is optional. A fully connected layer is ``Gemm`` with ``transB=1``.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("Gemm", {"transB": 1, "alpha": 2.0}, opset=18)
        >>> op(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([1.0]))  # 2 * 11 + 1
        tensor([[23.]])
    """

    op_type = "Gemm"

    def forward(self, a, b, c=None):
        a = a.t() if self.attrs.get("transA", 0) else a
        b = b.t() if self.attrs.get("transB", 0) else b
        y = self.attrs.get("alpha", 1.0) * (a @ b)
        return y if c is None else y + self.attrs.get("beta", 1.0) * c


class Flatten(OnnxOp):
    """ONNX Flatten: a 2-D tensor, the axes before ``axis`` (default 1) in its rows, the rest in its columns.

    Example:
        >>> import torch
        >>> OnnxOp.create("Flatten", {}, opset=18)(torch.zeros(2, 3, 4, 5)).shape
        torch.Size([2, 60])
    """

    op_type = "Flatten"

    def forward(self, x):
        axis = self.attrs.get("axis", 1)
        axis = axis + x.dim() if axis < 0 else axis
        return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


class Reshape(OnnxOp):
    """ONNX Reshape. A constant target shape that starts with 1 keeps the runtime batch size,
    so that graphs exported with a fixed batch of 1 run on batches.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("Reshape", {}, opset=18)
        >>> op(torch.zeros(2, 3, 4), torch.tensor([0, -1])).shape  # 0 keeps that axis, -1 takes the rest
        torch.Size([2, 12])
        >>> op.batch_polymorphic = True  # as in a graph exported for a batch of 1
        >>> op(torch.zeros(5, 8), torch.tensor([1, 2, 4])).shape
        torch.Size([5, 2, 4])
    """

    op_type = "Reshape"
    batch_polymorphic = False  # set by the converter for graphs with a static batch of 1

    def forward(self, x, shape):
        target = [int(v) for v in shape.tolist()]
        if not self.attrs.get("allowzero", 0):
            target = [x.shape[i] if v == 0 else v for i, v in enumerate(target)]
        if target and target[0] == 1 and x.dim() > 0 and x.shape[0] > 1 and self.batch_polymorphic:
            target[0] = x.shape[0]
        return x.reshape(target)


class Transpose(OnnxOp):
    """ONNX Transpose: the axes permuted by ``perm`` (default: reversed).

    Example:
        >>> import torch
        >>> OnnxOp.create("Transpose", {"perm": [0, 2, 3, 1]}, opset=18)(torch.zeros(1, 3, 4, 5)).shape
        torch.Size([1, 4, 5, 3])
    """

    op_type = "Transpose"

    def forward(self, x):
        perm = self.attrs.get("perm") or list(reversed(range(x.dim())))
        return x.permute(*perm)


class Concat(OnnxOp):
    """ONNX Concat: the inputs joined along ``axis``; omitted (``None``) inputs are left out.

    Example:
        >>> import torch
        >>> OnnxOp.create("Concat", {"axis": 1}, opset=18)(torch.ones(1, 1), None, torch.zeros(1, 2))
        tensor([[1., 0., 0.]])
    """

    op_type = "Concat"

    def forward(self, *xs):
        return torch.cat([x for x in xs if x is not None], dim=self.attrs["axis"])


class Pad(OnnxOp):
    """ONNX Pad: ``constant``, ``reflect``, ``edge`` or ``wrap`` padding. From opset 11 the pads
    (all begins, then all ends), the fill value and the axes are inputs; before, attributes.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("Pad", {}, opset=18)
        >>> op(torch.tensor([[1.0, 2.0]]), torch.tensor([0, 1, 0, 2]), torch.tensor(9.0))  # 1 before, 2 after
        tensor([[9., 1., 2., 9., 9.]])
        >>> OnnxOp.create("Pad", {"mode": b"edge"}, opset=18)(torch.tensor([[[[1.0, 2.0]]]]),
        ...                                                   torch.tensor([0, 0, 0, 1, 0, 0, 0, 2]))
        tensor([[[[1., 1., 2., 2., 2.]]]])
    """

    op_type = "Pad"
    _modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}

    def __init__(self, attrs: dict[str, Any], opset: int) -> None:
        super().__init__(attrs, opset)
        mode = attrs.get("mode", b"constant")
        self.mode = mode.decode() if isinstance(mode, bytes) else mode
        if self.mode not in self._modes:
            raise UnsupportedOperator(f"Pad mode={self.mode}")

    def forward(self, x, pads=None, value=None, axes=None):
        if self.opset < 11:
            pads, fill = list(self.attrs.get("pads", [])), float(self.attrs.get("value", 0.0))
        else:
            pads = [int(p) for p in pads.tolist()]
            fill = float(value.reshape(-1)[0]) if value is not None and value.numel() else 0.0
        rank = x.dim()
        axes_list = [int(a) % rank for a in axes.tolist()] if axes is not None else list(range(rank))
        per_axis = dict(zip(axes_list, zip(pads[: len(axes_list)], pads[len(axes_list):])))
        pairs = [per_axis.get(i, (0, 0)) for i in range(rank)]
        if self.mode == "constant":
            return F.pad(x, _torch_pad(pairs), value=fill)
        first = next((i for i, p in enumerate(pairs) if p != (0, 0)), rank)
        if first < 2 and rank > 2:
            raise UnsupportedOperator(f"Pad mode={self.mode} on the batch or channel axis")
        return F.pad(x, _torch_pad(pairs[2:]), mode=self._modes[self.mode])


class MaxPool(_Windowed):
    """ONNX MaxPool over ``kernel_shape`` windows, with ``strides``, ``dilations``, ``pads`` or
    ``auto_pad``, and ``ceil_mode``; padding never wins the maximum.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}, opset=18)
        >>> op(torch.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """

    op_type = "MaxPool"

    def forward(self, x):
        kernel = list(self.attrs["kernel_shape"])
        spatial = len(kernel)
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[spatial - 1]
        pairs = self.pad_pairs(x, kernel)
        padding = [begin for begin, _ in pairs]
        if any(b != e or 2 * b > k for (b, e), k in zip(pairs, kernel)):
            x, padding = F.pad(x, _torch_pad(pairs), value=-math.inf), [0] * spatial
        return pool(x, kernel, list(self.attrs.get("strides", [1] * spatial)), padding,
                    list(self.attrs.get("dilations", [1] * spatial)), bool(self.attrs.get("ceil_mode", 0)))


class AveragePool(_Windowed):
    """Window sums over the padded input divided by the count of pixels that ONNX counts
    (real ones, plus the pads when ``count_include_pad``), which also covers ``ceil_mode``.

    Example:
        >>> import torch
        >>> op = OnnxOp.create("AveragePool", {"kernel_shape": [3], "pads": [1, 1]}, opset=18)
        >>> op(torch.tensor([[[3.0, 6.0, 9.0]]]))  # the pads are not counted at the ends
        tensor([[[4.5000, 6.0000, 7.5000]]])
    """

    op_type = "AveragePool"

    def forward(self, x):
        kernel = list(self.attrs["kernel_shape"])
        spatial = len(kernel)
        pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[spatial - 1]
        strides = list(self.attrs.get("strides", [1] * spatial))
        ceil = bool(self.attrs.get("ceil_mode", 0))
        if self.attrs.get("dilations", [1] * spatial) != [1] * spatial:
            raise UnsupportedOperator("AveragePool with dilations")
        pairs = self.pad_pairs(x, kernel)
        if not ceil and all(p == (0, 0) for p in pairs):
            return pool(x, kernel, strides)
        counted = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        fill = 1.0 if self.attrs.get("count_include_pad", 0) else 0.0
        padded = F.pad(x, _torch_pad(pairs))
        counted = F.pad(counted, _torch_pad(pairs), value=fill)
        return pool(padded, kernel, strides, 0, ceil) / pool(counted, kernel, strides, 0, ceil)


class GlobalAveragePool(OnnxOp):
    """ONNX GlobalAveragePool: the mean over every spatial axis, each kept with size 1.

    Example:
        >>> import torch
        >>> OnnxOp.create("GlobalAveragePool", {}, opset=18)(torch.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[7.5000]]]])
    """

    op_type = "GlobalAveragePool"

    def forward(self, x):
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


class Softmax(OnnxOp):
    """Softmax over ``axis``; before opset 13 the input is coerced to 2-D at ``axis`` (default 1).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 2, 2)
        >>> OnnxOp.create("Softmax", {}, opset=13)(x)[0, 0], OnnxOp.create("Softmax", {}, opset=11)(x)[0, 0]
        (tensor([0.5000, 0.5000]), tensor([0.2500, 0.2500]))
    """

    op_type = "Softmax"

    def forward(self, x):
        if self.opset >= 13:
            return torch.softmax(x, dim=self.attrs.get("axis", -1))
        axis = self.attrs.get("axis", 1)
        axis = axis + x.dim() if axis < 0 else axis
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return torch.softmax(flat, dim=1).reshape(x.shape)


class Identity(OnnxOp):
    """ONNX Identity: its input, unchanged.

    Example:
        >>> import torch
        >>> OnnxOp.create("Identity", {}, opset=18)(torch.tensor([1, 2]))
        tensor([1, 2])
    """

    op_type = "Identity"

    def forward(self, x):
        return x


class Constant(OnnxOp):
    """Holds its value; the converter folds Constant nodes into the graph's buffers.

    Example:
        >>> op = OnnxOp.create("Constant", {"value_float": 1.5}, opset=18)
        >>> op
        Constant(value_float=1.5)
        >>> op()
        Traceback (most recent call last):
        ...
        RuntimeError: Constant nodes are folded when the graph is converted
    """

    op_type = "Constant"

    def forward(self):
        raise RuntimeError("Constant nodes are folded when the graph is converted")


#: The operator types the converter handles.
SUPPORTED = tuple(sorted(OnnxOp._types))
