"""Shape rules for the operators of :mod:`~s2w_toolkit.weights.onnx_ops`: what each one's
``forward`` would build, computed from shapes alone.

A rule takes the operator module (its checked attributes) and its inputs, each either a real
tensor (a value computed from the graph's constants: a ``Reshape``'s target, a ``Pad``'s pads)
or an :class:`Abstract` one (a shape and a dtype), and returns the output's shape and dtype and
every other tensor the operator allocates on the way (the padded copy inside a ``Conv`` or a
pool, the broadcast operands of a batched ``MatMul``). Each rule follows its operator's
``forward`` step by step; ``tests/test_hardening_onnx.py`` checks them against real forward
passes. :data:`RULES` has one per operator in :data:`~s2w_toolkit.weights.onnx_ops.SUPPORTED`
except ``Constant``, which the converter folds.

Example:
    >>> from s2w_toolkit.weights.onnx_ops import OnnxOp
    >>> op = OnnxOp.create("Conv", {"pads": [0, 0, 5000, 5000], "strides": [5000, 5000]}, opset=18)
    >>> x, w = Abstract((1, 3, 112, 112)), Abstract((8, 3, 3, 3))
    >>> out, dtype, inside = RULES["Conv"](op, [x, w])
    >>> out, dtype, inside  # a 2x2 output, from a padded copy of 5,112 x 5,112
    ((1, 8, 2, 2), torch.float32, [((1, 3, 5112, 5112), torch.float32)])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .onnx_ops import OnnxOp, UnsupportedOperator

Shape = tuple[int, ...]
Built = tuple[Shape, torch.dtype]
Rule = Callable[[OnnxOp, list[Any]], tuple[Shape, torch.dtype, list[Built]]]


class Abstract:
    """A tensor known only by its shape and dtype (what the graph's input makes, before any
    pixel exists); it answers ``shape``, ``dtype`` and ``dim()`` as a tensor does.

    Example:
        >>> a = Abstract((1, 3, 112, 112))
        >>> a.dim(), a.dtype, a.nbytes
        (4, torch.float32, 150528)
    """

    def __init__(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> None:
        self.shape, self.dtype = tuple(int(d) for d in shape), dtype

    def dim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def __repr__(self) -> str:
        return f"Abstract({self.shape}, {self.dtype})"


def _broadcast(*shapes: Shape) -> Shape:
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _result_type(a: Any, b: Any) -> torch.dtype:
    """The dtype PyTorch gives an operation on ``a`` and ``b`` (a 0-d one counts as a scalar)."""
    probe = lambda v: torch.empty((0,) if v.dim() else (), dtype=v.dtype)  # noqa: E731
    return torch.result_type(probe(a), probe(b))


def _same(op: OnnxOp, args: list[Any]):
    return tuple(args[0].shape), args[0].dtype, []


def _elementwise(op: OnnxOp, args: list[Any]):
    a, b = args[:2]
    return _broadcast(a.shape, b.shape), _result_type(a, b), []


def _prelu(op: OnnxOp, args: list[Any]):
    x, slope = args[:2]
    product = _broadcast(x.shape, slope.shape)
    return product, _result_type(x, slope), [(tuple(x.shape), torch.bool), (product, _result_type(x, slope))]


def _matmul_shapes(a: Shape, b: Shape) -> tuple[Shape, list[Shape]]:
    if not a or not b:
        raise ValueError("MatMul of a 0-d tensor")
    left, right = ((1,) + a if len(a) == 1 else a), (b + (1,) if len(b) == 1 else b)
    if left[-1] != right[-2]:
        raise ValueError(f"MatMul of {a} by {b}")
    batch = _broadcast(left[:-2], right[:-2])
    out = batch + (left[-2], right[-1])
    out = out[:-2] + out[-1:] if len(a) == 1 else out
    out = out[:-1] if len(b) == 1 else out
    copies = [batch + m[-2:] for m in (left, right) if m[:-2] != batch]  # an operand broadcast is copied
    return out, copies


def _matmul(op: OnnxOp, args: list[Any]):
    out, operands = _matmul_shapes(tuple(args[0].shape), tuple(args[1].shape))
    dtype = _result_type(args[0], args[1])
    return out, dtype, [(s, dtype) for s in operands]


def _gemm(op: OnnxOp, args: list[Any]):
    a, b = tuple(args[0].shape), tuple(args[1].shape)
    a = a[::-1] if op.attrs.get("transA", 0) else a
    b = b[::-1] if op.attrs.get("transB", 0) else b
    product, operands = _matmul_shapes(a, b)
    dtype = _result_type(args[0], args[1])
    built = [(s, dtype) for s in operands] + [(product, dtype)] * 2  # a @ b, then alpha * it
    if len(args) > 2 and args[2] is not None:
        built.append((tuple(args[2].shape), args[2].dtype))  # beta * c
        return _broadcast(product, tuple(args[2].shape)), _result_type(Abstract(product, dtype), args[2]), built
    return product, dtype, built


def _flatten(op: OnnxOp, args: list[Any]):
    shape = tuple(args[0].shape)
    axis = op.attrs.get("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    return (math.prod(shape[:axis]), math.prod(shape[axis:])), args[0].dtype, []


def _reshape(op: OnnxOp, args: list[Any]):
    x, shape = args[0], args[1]
    size = tuple(x.shape)
    target = [int(v) for v in shape.tolist()]
    if not op.attrs.get("allowzero", 0):
        target = [size[i] if v == 0 else v for i, v in enumerate(target)]
    if target and target[0] == 1 and size and size[0] > 1 and op.batch_polymorphic:
        target[0] = size[0]
    if target.count(-1) > 1 or any(v < -1 for v in target):
        raise ValueError(f"Reshape to {target}")
    known = math.prod(v for v in target if v != -1)
    if -1 in target:
        target[target.index(-1)] = math.prod(size) // known if known else 0
    if math.prod(target) != math.prod(size):
        raise ValueError(f"Reshape of {size} to {target}")
    return tuple(target), x.dtype, []


def _transpose(op: OnnxOp, args: list[Any]):
    shape = tuple(args[0].shape)
    perm = op.attrs.get("perm") or list(reversed(range(len(shape))))
    if sorted(p % max(len(shape), 1) for p in perm) != list(range(len(shape))):
        raise ValueError(f"Transpose of {shape} by {list(perm)}")
    return tuple(shape[p] for p in perm), args[0].dtype, []


def _concat(op: OnnxOp, args: list[Any]):
    xs = [x for x in args if x is not None]
    rank = xs[0].dim()
    axis = op.attrs["axis"] % max(rank, 1)
    rest = {tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:]) for x in xs}
    if len(rest) > 1 or any(x.dim() != rank for x in xs):
        raise ValueError(f"Concat of {[tuple(x.shape) for x in xs]} on axis {axis}")
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return tuple(shape), dtype, []


def _pad(op: OnnxOp, args: list[Any]):
    x, pads, axes = args[0], (args + [None] * 4)[1], (args + [None] * 4)[3]
    pads = list(op.attrs.get("pads", [])) if op.opset < 11 else [int(p) for p in pads.tolist()]
    shape, rank = tuple(x.shape), x.dim()
    axes_list = [int(a) % rank for a in axes.tolist()] if axes is not None else list(range(rank))
    per_axis = dict(zip(axes_list, zip(pads[: len(axes_list)], pads[len(axes_list):])))
    pairs = [per_axis.get(i, (0, 0)) for i in range(rank)]
    if op.mode != "constant":
        if next((i for i, p in enumerate(pairs) if p != (0, 0)), rank) < 2 and rank > 2:
            raise UnsupportedOperator(f"Pad mode={op.mode} on the batch or channel axis")
        pairs[:2] = [(0, 0)] * min(rank, 2)
    return tuple(n + b + e for n, (b, e) in zip(shape, pairs)), x.dtype, []


def _pool_size(n: int, k: int, s: int, pad: int, d: int, ceil: bool) -> int:
    """PyTorch's output size of one pooled or convolved axis (``pad`` on each side)."""
    if s <= 0:
        raise ValueError(f"stride {s}")
    out = (n + 2 * pad - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + pad:
        out -= 1
    return max(out, 0)


def _padded(x: Any, pairs: list[tuple[int, int]]) -> Shape:
    shape = tuple(x.shape)
    return shape[:2] + tuple(n + b + e for n, (b, e) in zip(shape[2:], pairs))


def _conv(op: OnnxOp, args: list[Any]):
    x, w = args[0], args[1]
    spatial, kernel = x.dim() - 2, list(w.shape[2:])
    pairs = op.pad_pairs(x, kernel)
    strides = list(op.attrs.get("strides", [1] * spatial))
    dilations = list(op.attrs.get("dilations", [1] * spatial))
    built: list[Built] = []
    size, padding = tuple(x.shape), [b for b, _ in pairs]
    if any(b != e for b, e in pairs):
        size, padding = _padded(x, pairs), [0] * spatial
        built.append((size, x.dtype))
    out = [_pool_size(n, k, s, p, d, False) for n, k, s, p, d in zip(size[2:], kernel, strides, padding, dilations)]
    return (size[0], w.shape[0], *out), _result_type(x, w), built


def _max_pool(op: OnnxOp, args: list[Any]):
    x = args[0]
    kernel = list(op.attrs["kernel_shape"])
    spatial = len(kernel)
    strides = list(op.attrs.get("strides", [1] * spatial)) or kernel
    dilations = list(op.attrs.get("dilations", [1] * spatial))
    pairs = op.pad_pairs(x, kernel)
    built: list[Built] = []
    size, padding = tuple(x.shape), [b for b, _ in pairs]
    if any(b != e or 2 * b > k for (b, e), k in zip(pairs, kernel)):
        size, padding = _padded(x, pairs), [0] * spatial
        built.append((size, x.dtype))
    ceil = bool(op.attrs.get("ceil_mode", 0))
    out = (*size[:2], *[_pool_size(n, k, s, p, d, ceil)
                        for n, k, s, p, d in zip(size[2:], kernel, strides, padding, dilations)])
    return out, x.dtype, built + [(out, torch.int64)]  # PyTorch may keep the argmax indices too


def _average_pool(op: OnnxOp, args: list[Any]):
    x = args[0]
    kernel = list(op.attrs["kernel_shape"])
    spatial = len(kernel)
    strides = list(op.attrs.get("strides", [1] * spatial)) or kernel
    ceil = bool(op.attrs.get("ceil_mode", 0))
    if op.attrs.get("dilations", [1] * spatial) != [1] * spatial:
        raise UnsupportedOperator("AveragePool with dilations")
    pairs = op.pad_pairs(x, kernel)
    if not ceil and all(p == (0, 0) for p in pairs):
        out = [_pool_size(n, k, s, 0, 1, False) for n, k, s in zip(x.shape[2:], kernel, strides)]
        return (*x.shape[:2], *out), x.dtype, []
    size = _padded(x, pairs)
    out = tuple(_pool_size(n, k, s, 0, 1, ceil) for n, k, s in zip(size[2:], kernel, strides))
    built = [((1, 1, *x.shape[2:]), x.dtype), (size, x.dtype), ((1, 1, *size[2:]), x.dtype),
             ((*size[:2], *out), x.dtype), ((1, 1, *out), x.dtype)]
    return (*size[:2], *out), x.dtype, built


def _global_pool(op: OnnxOp, args: list[Any]):
    shape = tuple(args[0].shape)
    return shape[:2] + (1,) * (len(shape) - 2), args[0].dtype, []


def _softmax(op: OnnxOp, args: list[Any]):
    built = [] if op.opset >= 13 else [(tuple(args[0].shape), args[0].dtype)]  # the 2-D copy
    return tuple(args[0].shape), args[0].dtype, built


RULES: dict[str, Rule] = {
    "Add": _elementwise, "Sub": _elementwise, "Mul": _elementwise, "Div": _elementwise, "PRelu": _prelu,
    "Relu": _same, "LeakyRelu": _same, "Sigmoid": _same, "Identity": _same, "BatchNormalization": _same,
    "Softmax": _softmax, "MatMul": _matmul, "Gemm": _gemm, "Flatten": _flatten, "Reshape": _reshape,
    "Transpose": _transpose, "Concat": _concat, "Pad": _pad, "Conv": _conv, "MaxPool": _max_pool,
    "AveragePool": _average_pool, "GlobalAveragePool": _global_pool,
}

#: Inputs an operator reads by value to size its output: they must come from constants.
SIZING_INPUTS = {"Reshape": (1,), "Pad": (1, 3)}
