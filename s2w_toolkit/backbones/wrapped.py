"""Any ``nn.Module`` embedding network as a :class:`~s2w_toolkit.backbones.base.Backbone`, from Python.

Example:
    >>> import numpy as np
    >>> from torch import nn
    >>> tiny = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    >>> net = wrap_module(tiny, input_size=(64, 64), name="tiny")
    >>> net.embedding_dim, net.cam_layer is tiny[1], net.template.name   # the ReLU: the last spatial map
    (8, True, 'dlib-chip-64-pad0.25')
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    >>> x = net.preprocess(faces)
    >>> x.shape, net.similarity(x[:1], x[1:]).shape
    (torch.Size([2, 3, 64, 64]), torch.Size([1]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import Backbone, PreprocessParams
from ..cam import find_cam_layer
from ..errors import CheckpointError
from ..faces.templates import AlignmentTemplate, arcface_template, dlib_chip_template


class WrappedBackbone(Backbone):
    """A user's embedding network with the settings given to :func:`wrap_module`.

    The network is the submodule ``module``; ``input_size``, ``embedding_dim``, ``template``,
    ``threshold`` and ``name`` are instance attributes. :meth:`preprocess` maps RGB uint8
    faces to ``(x - mean) / std`` per channel, after reversing the channels when ``bgr``.

    Example:
        >>> from torch import nn
        >>> net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(1)), input_size=(8, 8))
        >>> type(net).__name__, net.describe()["embedding_dim"], net.threshold_source
        ('WrappedBackbone', 144, 'given to wrap_module')
    """

    name = "custom"
    threshold_source = "given to wrap_module"

    def __init__(self, module: nn.Module, *, input_size: tuple[int, int], mean: Sequence[float],
                 std: Sequence[float], bgr: bool, cam_layer: str | None, template: AlignmentTemplate,
                 threshold: float, name: str, embedding_dim: int) -> None:
        super().__init__()
        self.module = module
        self.input_size = input_size
        self.embedding_dim = embedding_dim
        self.template = template
        self.threshold = threshold
        self.threshold_source = "given to wrap_module"
        self.name = name
        self.bgr = bgr
        self.cam_layer_name = cam_layer
        self.pixels = PreprocessParams(mean=tuple(mean), scale=tuple(std), bgr=bgr)
        # An empty buffer, so that a module without parameters still knows its device.
        self.register_buffer("anchor", torch.zeros(0), persistent=False)

    @classmethod
    def load(cls, weights: str | None = None) -> "WrappedBackbone":
        raise CheckpointError("a wrapped backbone is built in Python with "
                              "s2w_toolkit.backbones.wrapped.wrap_module(module, ...), not loaded by name")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def preprocess_params(self) -> PreprocessParams:
        return self.pixels

    @property
    def cam_layer(self) -> nn.Module:
        if self.cam_layer_name is None:
            raise CheckpointError(f"wrapped backbone {self.name!r} has no layer with a spatial output "
                                  f"larger than 1x1; pass cam_layer= to wrap_module")
        return self.module.get_submodule(self.cam_layer_name)

    @property
    def device(self) -> torch.device:
        return self.anchor.device


def wrap_module(module: nn.Module, *, input_size: tuple[int, int] = (112, 112),
                mean: Sequence[float] = (127.5, 127.5, 127.5), std: Sequence[float] = (127.5, 127.5, 127.5),
                bgr: bool = False, cam_layer: nn.Module | str | None = None,
                template: AlignmentTemplate | None = None, threshold: float = 0.5, name: str = "custom",
                embedding_dim: int | None = None,
                backbone_class: type[WrappedBackbone] = WrappedBackbone) -> WrappedBackbone:
    """Wrap ``module``, which maps ``(N, 3, H, W)`` float faces to ``(N, D)`` embeddings.

    * ``mean``/``std``: per channel, in the order the network reads its channels (B, G, R when
      ``bgr``), applied to 0..255 pixel values as ``(x - mean) / std``.
    * ``cam_layer``: a submodule of ``module`` or its dotted name (``"layer4"``,
      ``"body.3.conv"``); by default the one rule of :func:`~s2w_toolkit.cam.find_cam_layer`
      (the last module to output a spatial map larger than 1x1 in a forward pass).
    * ``template``: by default ``arcface_template(112)`` for a 112x112 input, else
      ``dlib_chip_template(size, 0.25)``; its size must equal ``input_size``.
    * ``embedding_dim``: checked against (or, when None, taken from) one forward pass of a
      zero batch, run in eval mode without gradients; the output must be ``(N, D)``.
    * ``backbone_class``: a subclass of :class:`WrappedBackbone` to build instead (its
      ``__init__`` takes the same keywords).

    The module is put in eval mode. Errors are one-line :class:`CheckpointError` messages.
    """
    if not (isinstance(backbone_class, type) and issubclass(backbone_class, WrappedBackbone)):
        raise CheckpointError(f"backbone_class must be a subclass of WrappedBackbone, got {backbone_class!r}")
    input_size = (int(input_size[0]), int(input_size[1]))
    if len(mean) != 3 or len(std) != 3:
        raise CheckpointError(f"mean and std need 3 values (one per channel), got {len(mean)} and {len(std)}")
    if template is None:
        if input_size[0] != input_size[1]:
            raise CheckpointError(f"input_size {input_size} is not square; pass a template= of that size")
        side = input_size[0]
        template = arcface_template(112) if side == 112 else dlib_chip_template(side, 0.25)
    if tuple(template.size) != input_size:
        raise CheckpointError(f"template {template.name!r} makes {template.size} faces; input_size is {input_size}")
    found = _output_dim(module.eval(), input_size)
    if embedding_dim is not None and embedding_dim != found:
        raise CheckpointError(f"wrapped module returns {found}-d embeddings, embedding_dim={embedding_dim} was given")
    return backbone_class(module, input_size=input_size, mean=tuple(mean), std=tuple(std), bgr=bgr,
                          cam_layer=_cam_layer_name(module, cam_layer, input_size), template=template,
                          threshold=float(threshold), name=name, embedding_dim=found)


def _output_dim(module: nn.Module, input_size: tuple[int, int]) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, 3, *input_size, device=device))
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"wrapped module fails on a (1, 3, {input_size[0]}, {input_size[1]}) batch: "
                              f"{type(exc).__name__}: {detail}") from None
    if not isinstance(out, torch.Tensor):
        raise CheckpointError(f"wrapped module returns a {type(out).__name__}; "
                              f"a backbone must return (N, D) embeddings")
    if out.ndim != 2:
        raise CheckpointError(f"wrapped module returns shape {tuple(out.shape)}; "
                              f"a backbone must return (N, D) embeddings")
    return int(out.shape[1])


def _cam_layer_name(module: nn.Module, cam_layer: nn.Module | str | None, input_size: tuple[int, int]) -> str | None:
    names = dict(module.named_modules())
    if cam_layer is None:
        return find_cam_layer(module, input_size)
    if isinstance(cam_layer, str):
        if cam_layer not in names:
            known = [repr(n) for n in names if n]
            listed = ", ".join(known[:12]) + (f", ... ({len(known)} in all)" if len(known) > 12 else "")
            raise CheckpointError(f"cam_layer {cam_layer!r} is not a submodule of the wrapped module "
                                  f"(its submodules: {listed or 'none'})")
        return cam_layer
    for name, sub in names.items():
        if sub is cam_layer:
            return name
    raise CheckpointError(f"cam_layer {type(cam_layer).__name__} is not a submodule of the wrapped module")
