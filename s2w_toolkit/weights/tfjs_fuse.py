"""Fold the elementwise tails of TFJS convolutions into the convolutions, before the module is
built: a per-channel ``Mul`` and ``Add`` after a convolution become its filter scale and bias,
and ``Relu``, ``Minimum(6)`` and ``Maximum(0)`` become its fused ``Relu6`` (or ``Relu``).

Converters such as ``tensorflowjs_converter`` leave batch normalisation as a ``Mul`` and an
``Add`` and write ReLU6 as ``Relu`` then ``clip_by_value``; run one by one on a batch of 224-px
faces these memory-bound passes cost more than the convolutions. Folded, the chain is one
``_FusedConv2D`` (or ``FusedDepthwiseConv2dNative``) node that keeps the name of the chain's
*last* node, so the graph's wiring, its outputs and the names of the layers a user hooks (the
CAM layer is the last activation of a block) do not change. A node read twice, a graph output
or a constant that is not per-channel stops a chain where it is.

Example:
    >>> import numpy as np
    >>> w = np.ones((1, 1, 2, 2), np.float32)
    >>> graph = {"nodes": [("x", "Placeholder", [], {}), ("w", "Const", [], {}), ("k", "Const", [], {}),
    ...                    ("c", "Conv2D", ["x", "w"], {"strides": [1, 1, 1, 1], "padding": "SAME"}),
    ...                    ("m", "Mul", ["c", "k"], {}), ("r", "Relu", ["m"], {})],
    ...          "weights": {"w": w, "k": np.array([2.0, 3.0], np.float32)},
    ...          "inputs": [("x", "x", (None, 4, 4, 2))], "outputs": [("r", "r")]}
    >>> fused = fuse_graph(graph)
    >>> node = [n for n in fused["nodes"] if n[0] == "r"][0]
    >>> node[1], node[3]["fused_ops"], fused["weights"][node[2][1]][0, 0, 0].tolist()
    ('_FusedConv2D', ['BiasAdd', 'Relu'], [2.0, 3.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

FUSED = {"Conv2D": "_FusedConv2D", "_FusedConv2D": "_FusedConv2D",
         "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative",
         "FusedDepthwiseConv2dNative": "FusedDepthwiseConv2dNative"}
ADDS = ("Add", "AddV2", "BiasAdd")


def _per_channel(value: np.ndarray | None, channels: int) -> np.ndarray | None:
    """``value`` as ``(channels,)`` when it broadcasts along the last (channel) axis only."""
    if value is None or value.ndim > 4 or any(d != 1 for d in value.shape[:-1]):
        return None
    flat = value.reshape(-1).astype(np.float32)
    return np.broadcast_to(flat, (channels,)).copy() if flat.size in (1, channels) else None


def _scalar(value: np.ndarray | None) -> float | None:
    return float(value.reshape(-1)[0]) if value is not None and value.size >= 1 and np.all(value == value.flat[0]) \
        else None


def fuse_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """A copy of a :func:`~s2w_toolkit.weights.tfjs_graph.read_tfjs` graph with its convolution
    tails folded (see the module docs); nodes left unread are dropped when the module is built."""
    nodes = {name: (op, list(ins), dict(attrs)) for name, op, ins, attrs in graph["nodes"]}
    weights = dict(graph["weights"])
    keep = {n.split(":")[0] for _, n in graph["outputs"]} | {n.split(":")[0] for _, n, _ in graph["inputs"]}
    readers: dict[str, list[str]] = {}
    for name, (_, ins, _) in nodes.items():
        for i in ins:
            readers.setdefault(i.lstrip("^").split(":")[0], []).append(name)

    def const(name: str) -> np.ndarray | None:
        name = name.split(":")[0]
        return weights.get(name) if name in nodes and nodes[name][0] == "Const" else None

    def next_of(name: str) -> tuple[str, str, np.ndarray | None] | None:
        """The one node reading ``name``, its op and its other (constant) operand."""
        found = readers.get(name, [])
        if name in keep or len(found) != 1 or any(i.startswith("^") for i in nodes[found[0]][1]):
            return None
        op, ins, _ = nodes[found[0]]
        others = [i for i in ins if i.split(":")[0] != name]
        if len(ins) == 1:
            return found[0], op, None
        return (found[0], op, const(others[0])) if len(ins) == 2 and len(others) == 1 else None

    for name, (op, ins, attrs) in list(nodes.items()):
        fused_ops = list(attrs.get("fused_ops") or [])
        w = const(ins[1]) if op in FUSED and len(ins) >= 2 else None
        if w is None or w.ndim != 4 or fused_ops not in ([], ["BiasAdd"]) or len(ins) != 2 + len(fused_ops):
            continue
        depthwise = "Depthwise" in op
        cout = w.shape[2] * w.shape[3] if depthwise else w.shape[3]
        bias = _per_channel(const(ins[2]), cout) if fused_ops else np.zeros(cout, np.float32)
        if bias is None:
            continue
        scale, act, last, cur = np.ones(cout, np.float32), None, name, name
        while (step := next_of(cur)) is not None:
            nxt, op2, value = step
            channel = _per_channel(value, cout)
            if act is None and op2 == "Mul" and channel is not None:
                scale, bias = scale * channel, bias * channel
            elif act is None and op2 in ADDS and channel is not None:
                bias = bias + channel
            elif act is None and op2 in ("Relu", "Relu6"):
                act = op2
            elif act in ("Relu", "Relu6") and op2 == "Maximum" and _scalar(value) == 0.0:
                pass  # already non-negative
            elif act == "Relu" and op2 == "Minimum" and _scalar(value) == 6.0:
                act = "Relu6"
            else:
                break
            last = cur = nxt
        if last == name:
            continue
        filt = (w.reshape(*w.shape[:2], cout) * scale).reshape(w.shape) if depthwise else w * scale
        weights[f"{last}/fused_filter"], weights[f"{last}/fused_bias"] = filt.astype(np.float32), bias
        nodes[f"{last}/fused_filter"] = ("Const", [], {})
        nodes[f"{last}/fused_bias"] = ("Const", [], {})
        fused = {k: v for k, v in attrs.items() if k not in ("fused_ops", "num_args")}
        nodes[last] = (FUSED[op], [ins[0], f"{last}/fused_filter", f"{last}/fused_bias"],
                       {**fused, "fused_ops": ["BiasAdd"] + ([act] if act else []), "num_args": 1})
    return {**graph, "nodes": [(name, op, ins, attrs) for name, (op, ins, attrs) in nodes.items()],
            "weights": weights}
