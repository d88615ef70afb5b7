"""Any ONNX face embedder (insightface ``w600k_r50.onnx``, the ``buffalo`` packs, ...) as a backbone.

The graph is converted by :func:`~s2w_toolkit.weights.onnx_graph.convert_onnx` (once per file:
:func:`~s2w_toolkit.weights.graph_plan.load_converted` caches the result) into a
differentiable module and wrapped with the settings the file implies:

* input size from the graph's input shape (112x112 when the spatial size is not fixed); a
  declared side above :data:`MAX_INPUT_SIDE` (1024 px) is refused before anything runs, and so
  is a graph that would build, for one image of that size, a tensor or a set of live values
  larger than :mod:`~s2w_toolkit.weights.onnx_shapes` allows (a ``Pad`` of 5,000 px inside a
  112 px net), found from shapes alone, on a fresh conversion and a cached one alike;
* normalisation: insightface's convention, RGB ``(x - 127.5) / 127.5``, unless the graph
  normalises by itself (its input goes first into a Sub, Mul or Div with a constant; then the
  raw 0..255 pixels are fed), the same rule insightface's own model loader applies;
* alignment: the ArcFace five-point template, scaled to the input size;
* CAM layer: the last node whose output is a spatial map (4-D, larger than 1x1), not counting
  Transpose and Reshape, whose 4-D outputs need not be (N, C, H, W);
* embedding: the first graph output, which must be ``(N, D)``.

:meth:`OnnxBackbone.from_file` overrides any of them.

Example:
    >>> import os, tempfile, torch
    >>> from torch import nn
    >>> tiny = nn.Sequential(nn.Conv2d(3, 4, 3, 2), nn.PReLU(4), nn.Flatten(), nn.Linear(4 * 55 * 55, 8))
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.onnx")
    >>> torch.onnx.export(tiny.eval(), torch.zeros(1, 3, 112, 112), path, dynamo=False)
    >>> net = OnnxBackbone.from_file(path)
    >>> net.input_size, net.embedding_dim, net.cam_layer_name, net.normalisation
    ((112, 112), 8, 'nodes.n_1_PRelu', 'rgb (x - 127.5) / 127.5')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import CheckpointError
from ..faces.templates import AlignmentTemplate, arcface_template
from ..weights.graph_plan import load_converted
from ..weights.onnx_graph import OnnxModule
from ..weights.onnx_shapes import check_sizes
from ..weights.formats import ONNX, refuse_unless, require_weights
from .wrapped import WrappedBackbone, wrap_module

MAX_INPUT_SIDE = 1024  # px: face embedders take 112-224; a larger declared input is refused (memory)


class OnnxBackbone(WrappedBackbone):
    """A converted ONNX graph with the input size, normalisation, alignment and CAM layer its
    file implies (see the module docs). Registered as ``onnx``: ``--backbone onnx --weights
    model.onnx``.

    Example:
        >>> OnnxBackbone.summary()
        {'input': 'per file', 'embedding': 'per file'}
    """

    name = "onnx"
    threshold = 0.3
    threshold_source = "a usual operating point for insightface ArcFace ONNX models; calibrate it on your data"
    normalisation = ""

    @classmethod
    def summary(cls) -> dict[str, str]:
        return {"input": "per file", "embedding": "per file"}

    @classmethod
    def load(cls, weights: str | None = None) -> "OnnxBackbone":
        return cls.from_file(require_weights(weights, "onnx", "--weights PATH (an .onnx face embedding model)"))

    @classmethod
    def from_file(cls, path: str | Path, *, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None, bgr: bool = False, template: AlignmentTemplate | None = None,
                  threshold: float | None = None, cam_layer: str | None = None) -> "OnnxBackbone":
        """Convert ``path`` and wrap it; every keyword left as None is taken from the file."""
        refuse_unless(path, ONNX, "an .onnx model for the onnx backbone")
        graph = load_converted(path)
        if len(graph.input_names) != 1:
            raise CheckpointError(f"{path}: expected a graph with one image input, found {len(graph.input_names)}")
        graph.keep_outputs(graph.output_names[:1])
        size = _input_size(graph, path)
        check_sizes(graph, (1, 3, *size), str(path))  # before the first forward pass, in wrap_module
        in_graph = _normalises_itself(graph)
        if mean is None:
            mean = (0.0, 0.0, 0.0) if in_graph else (127.5, 127.5, 127.5)
        if std is None:
            std = (1.0, 1.0, 1.0) if in_graph else (127.5, 127.5, 127.5)
        if template is None and size[0] == size[1]:
            template = arcface_template(size[0])
        net = wrap_module(graph, input_size=size, mean=mean, std=std, bgr=bgr,
                          cam_layer=cam_layer, template=template,
                          threshold=cls.threshold if threshold is None else threshold, name=cls.name,
                          backbone_class=cls)
        net.threshold_source = cls.threshold_source if threshold is None else "given to OnnxBackbone.from_file"
        net.normalisation = net.preprocess_params().describe()
        net.source = str(path)
        return net

    def describe(self) -> dict:
        return {**super().describe(), "source": getattr(self, "source", ""), "normalisation": self.normalisation}


def _input_size(graph: OnnxModule, path) -> tuple[int, int]:
    shape = graph.input_shapes[0]
    if len(shape) != 4 or shape[1] not in (3, None):
        raise CheckpointError(f"{path}: expected an (N, 3, H, W) image input, found shape "
                              f"{['?' if d is None else d for d in shape]}")
    height, width = shape[2] or 112, shape[3] or 112
    if not (0 < height <= MAX_INPUT_SIDE and 0 < width <= MAX_INPUT_SIDE):
        raise CheckpointError(f"{path}: declares a {height}x{width} input; the onnx backbone takes at most "
                              f"{MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} (MAX_INPUT_SIDE)")
    return (height, width)


def _normalises_itself(graph: OnnxModule) -> bool:
    for key, inputs in graph.consumers(graph.input_names[0]):
        if graph.nodes[key].op_type in ("Sub", "Mul", "Div") and any(graph.is_constant(n) for n in inputs):
            return True
    return False


