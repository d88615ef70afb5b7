"""Write small TFJS graph models (``model.json`` and weight shards), for tests and examples of
:mod:`.tfjs_graph`.

:func:`build_tfjs` takes the graph's inputs (name to NHWC shape, -1 for an open size), its nodes
(name, TensorFlow op, input names, attributes as plain values) and its constants (name to numpy
array), writes them as ``tensorflowjs_converter`` does into a folder and returns the JSON's path.
A float16 constant is written as a float32 weight quantised to float16; a uint8 or uint16 one as
a float32 weight with the affine ``quantization`` that ``affine`` gives it (``(min, scale)``).
Attributes are encoded by type: str as ``s`` (``T``, ``dtype`` and ``Tidx`` as ``type``), bool as
``b``, int as ``i``, float as ``f``, and lists of them as ``list``.

Example:
    >>> import json, tempfile
    >>> import numpy as np
    >>> path = build_tfjs(tempfile.mkdtemp(), {"x": (-1, 2)}, [("y", "Relu", ["x"], {})], outputs=["y"])
    >>> model = json.loads(path.read_text())
    >>> model["format"], model["signature"]["outputs"]["y"]["name"], [n["op"] for n in model["modelTopology"]["node"]]
    ('graph-model', 'y', ['Placeholder', 'Relu'])
    >>> q = build_tfjs(tempfile.mkdtemp(), {}, [], {"w": np.array([0, 255], np.uint8)}, affine={"w": (-1.0, 0.5)})
    >>> json.loads(q.read_text())["weightsManifest"][0]["weights"][0]["quantization"]
    {'dtype': 'uint8', 'min': -1.0, 'scale': 0.5, 'original_dtype': 'float32'}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["build_tfjs", "encode_attr"]

Node = tuple[str, str, Sequence[str], dict[str, Any]]
_TYPES = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL"}


def _shape(shape: Sequence[int]) -> dict[str, Any]:
    return {"dim": [{"size": str(int(d))} for d in shape]}


def encode_attr(key: str, value: Any) -> dict[str, Any]:
    """One attribute as a TensorFlow ``AttrValue`` in JSON.

    Example:
        >>> encode_attr("padding", "SAME"), encode_attr("strides", [1, 2, 2, 1])
        ({'s': 'U0FNRQ=='}, {'list': {'i': ['1', '2', '2', '1']}})
    """
    def one(v: Any) -> tuple[str, Any]:
        if isinstance(v, str):
            return ("type", v) if key in ("T", "dtype", "Tidx") else ("s", base64.b64encode(v.encode()).decode())
        if isinstance(v, (bool, np.bool_)):
            return "b", bool(v)
        if isinstance(v, (int, np.integer)):
            return "i", str(int(v))
        return "f", float(v)

    if isinstance(value, (list, tuple)):
        encoded = [one(v) for v in value]
        return {"list": {encoded[0][0]: [v for _, v in encoded]} if encoded else {}}
    kind, v = one(value)
    return {kind: v}


def build_tfjs(folder: str | Path, inputs: dict[str, Sequence[int]], nodes: Sequence[Node],
               constants: dict[str, np.ndarray] | None = None, *, outputs: Sequence[str] | None = None,
               affine: dict[str, tuple[float, float]] | None = None, shard_bytes: int = 4 << 20,
               signature: bool = True) -> Path:
    """Write the model into ``folder`` (see the module docs); returns ``folder / "model.json"``.
    ``outputs`` defaults to the last node; ``signature=False`` leaves the signature out."""
    folder, constants, affine = Path(folder), constants or {}, affine or {}
    folder.mkdir(parents=True, exist_ok=True)
    graph: list[dict[str, Any]] = [{"name": name, "op": "Placeholder", "attr": {
        "shape": {"shape": _shape(shape)}, "dtype": {"type": "DT_FLOAT"}}} for name, shape in inputs.items()]
    specs, data = [], b""
    for name, value in constants.items():
        value = np.asarray(value)
        dtype = "int32" if value.dtype == np.int32 else "bool" if value.dtype == np.bool_ else "float32"
        spec: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": dtype}
        if value.dtype in (np.float16, np.uint8, np.uint16):
            spec["quantization"] = {"dtype": value.dtype.name, "original_dtype": "float32"}
            if value.dtype != np.float16:
                spec["quantization"] = {"dtype": value.dtype.name, "min": float(affine[name][0]),
                                        "scale": float(affine[name][1]), "original_dtype": "float32"}
        specs.append(spec)
        data += np.ascontiguousarray(value, value.dtype.newbyteorder("<")).tobytes()
        graph.append({"name": name, "op": "Const", "attr": {
            "value": {"tensor": {"dtype": _TYPES[dtype], "tensorShape": _shape(value.shape)}},
            "dtype": {"type": _TYPES[dtype]}}})
    for name, op, ins, attrs in nodes:
        encoded = {k: encode_attr(k, v) for k, v in attrs.items()}
        graph.append({"name": name, "op": op, "input": list(ins), "attr": encoded})
    count = max(1, -(-len(data) // shard_bytes))
    paths = [f"group1-shard{i + 1}of{count}.bin" for i in range(count)]
    for i, shard in enumerate(paths):
        (folder / shard).write_bytes(data[i * shard_bytes:(i + 1) * shard_bytes])
    model: dict[str, Any] = {"format": "graph-model", "generatedBy": "s2w_toolkit.weights.tfjs_build",
                             "convertedBy": None, "modelTopology": {"node": graph, "library": {}, "versions": {}},
                             "weightsManifest": [{"paths": paths, "weights": specs}]}
    if signature:
        outs = list(outputs) if outputs is not None else [nodes[-1][0]] if nodes else []
        model["signature"] = {
            "inputs": {n: {"name": f"{n}:0", "dtype": "DT_FLOAT", "tensorShape": _shape(s)} for n, s in inputs.items()},
            "outputs": {n: {"name": n, "dtype": "DT_FLOAT"} for n in outs}}
        model = {k: model[k] for k in ("format", "generatedBy", "convertedBy", "signature", "modelTopology",
                                       "weightsManifest")}
    path = folder / "model.json"
    path.write_text(json.dumps(model, indent=1))
    return path
