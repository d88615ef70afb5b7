"""The ``Backbone`` interface: an embedding network that knows how to be fed and judged.

The preprocessing contract: :meth:`Backbone.preprocess` is a per-channel affine map of the
pixels, ``(pixel - mean) / scale`` after an optional RGB -> BGR swap, as
:meth:`Backbone.preprocess_params` states. Erasing (Sim2Word, the deletion metrics), the
Grad-CAM family's baselines and RISE's fills mix faces in the preprocessed space and rely on
it: mixing two preprocessed faces equals preprocessing the mixed pixels.

Example:
    >>> import torch
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet")
    >>> x = torch.zeros(2, 3, *net.input_size)
    >>> net(x).shape, net.similarity(x[:1], x[1:]).shape
    (torch.Size([2, 128]), torch.Size([1]))
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..faces.templates import AlignmentTemplate


@dataclass(frozen=True)
class PreprocessParams:
    """A backbone's input normalisation: ``(pixel - mean) / scale`` per channel, 0..255 pixels.

    ``mean`` and ``scale`` are in the order the network reads its channels (B, G, R when
    ``bgr``). :meth:`apply` maps RGB ``(N, 3, H, W)`` float pixels to the network's input.

    Example:
        >>> import torch
        >>> params = PreprocessParams(mean=(127.5, 127.5, 127.5), scale=(127.5, 127.5, 127.5))
        >>> params.apply(torch.tensor([0.0, 127.5, 255.0]).view(1, 3, 1, 1)).flatten()
        tensor([-1.,  0.,  1.])
        >>> PreprocessParams(mean=(1.0, 2.0, 3.0), bgr=True).apply(torch.zeros(1, 3, 1, 1)).flatten()
        tensor([-1., -2., -3.])
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bgr: bool = False

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.scale) != 3:
            raise ValueError(f"mean and scale need 3 values (one per channel), got {len(self.mean)} "
                             f"and {len(self.scale)}")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))

    def apply(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB pixels ``(N, 3, H, W)`` (0..255, float) to the network's input, same device and dtype."""
        if self.bgr:
            rgb = rgb.flip(1)
        mean = torch.tensor(self.mean, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
        scale = torch.tensor(self.scale, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
        return (rgb - mean) / scale

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """The RGB pixels ``(N, 3, H, W)`` (0..255, float) that :meth:`apply` maps to ``x``.

        Example:
            >>> params = PreprocessParams(mean=(1.0, 2.0, 3.0), scale=(2.0, 2.0, 2.0), bgr=True)
            >>> rgb = torch.rand(1, 3, 2, 2) * 255
            >>> bool(torch.allclose(params.undo(params.apply(rgb)), rgb, atol=1e-4))
            True
        """
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        scale = torch.tensor(self.scale, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        rgb = x * scale + mean
        return rgb.flip(1) if self.bgr else rgb

    def describe(self) -> str:
        """Short text, e.g. ``rgb (x - 127.5) / 127.5``."""
        order = "bgr" if self.bgr else "rgb"
        if len(set(self.mean)) == 1 == len(set(self.scale)):
            return f"{order} (x - {self.mean[0]:g}) / {self.scale[0]:g}"
        return f"{order} (x - {self.mean}) / {self.scale}"


class Backbone(nn.Module, ABC):
    """An ``nn.Module`` whose ``forward`` maps preprocessed faces ``(N, 3, H, W)`` to ``(N, D)``.

    Subclasses set the class attributes and implement :meth:`forward`,
    :meth:`preprocess_params` (or, rarely, :meth:`preprocess` itself, keeping it a per-channel
    affine map), :attr:`cam_layer` and the :meth:`load` constructor used by the registry.

    Example:
        >>> import numpy as np
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> net = tiny_backbone()
        >>> net.preprocess_params()
        PreprocessParams(mean=(127.5, 127.5, 127.5), scale=(127.5, 127.5, 127.5), bgr=False)
        >>> x = net.preprocess(np.full((16, 16, 3), 255, np.uint8))
        >>> tuple(x.shape), float(x.max()), net.embed(x).norm().item()
        ((1, 3, 16, 16), 1.0, 1.0)
    """

    name: ClassVar[str] = ""
    #: Cosine similarity at or above which two faces are judged the same person.
    threshold: ClassVar[float] = 0.5
    #: How the threshold was obtained, shown to users next to the verdict.
    threshold_source: ClassVar[str] = ""
    input_size: ClassVar[tuple[int, int]] = (112, 112)
    embedding_dim: ClassVar[int] = 512
    template: ClassVar[AlignmentTemplate]
    #: Identities of the identification head; 0 when the backbone has none (see :meth:`logits`).
    num_classes: int = 0

    @classmethod
    @abstractmethod
    def load(cls, weights: str | None = None) -> "Backbone":
        """Build the network and read its weights (the packaged default when ``weights`` is None)."""

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (not normalised) embeddings of preprocessed faces."""

    def preprocess_params(self) -> PreprocessParams:
        """The per-channel affine map :meth:`preprocess` applies to 0..255 pixels."""
        raise NotImplementedError(f"backbone {self.name!r} does not state its preprocessing: "
                                  f"override preprocess_params()")

    def preprocess(self, faces: np.ndarray) -> torch.Tensor:
        """Aligned RGB uint8 faces ``(N, H, W, 3)`` or ``(H, W, 3)`` to a float tensor
        ``(N, 3, H, W)`` on this module's device: :meth:`preprocess_params` applied to the pixels."""
        batch = torch.as_tensor(np.ascontiguousarray(faces), device=self.device)
        if batch.ndim == 3:
            batch = batch.unsqueeze(0)
        return self.preprocess_params().apply(batch.permute(0, 3, 1, 2).float())

    @property
    @abstractmethod
    def cam_layer(self) -> nn.Module:
        """The module whose output Grad-CAM-style methods hook (last spatial feature map)."""

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Identity scores ``(N, num_classes)`` (pre-softmax) from raw embeddings ``self(x)``,
        for backbones with an identification head."""
        raise NotImplementedError(f"backbone {self.name!r} has no identification head")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Identity scores ``(N, num_classes)`` of preprocessed faces: ``classify(self(x))``."""
        return self.classify(self(x))

    def uncertainty_from_embedding(self, embedding: torch.Tensor) -> torch.Tensor:
        """Predictive uncertainty ``(N,)`` from raw embeddings, for evidential backbones."""
        raise NotImplementedError(f"backbone {self.name!r} is not evidential: it has no uncertainty")

    @classmethod
    def summary(cls) -> dict[str, str]:
        """Input and embedding size as short labels, for ``s2w plugins``."""
        return {"input": "x".join(map(str, cls.input_size)), "embedding": str(cls.embedding_dim)}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings."""
        return F.normalize(self(x), dim=1)

    def similarity(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of L2-normalised embeddings, one value per row: shape ``(N,)``.

        ``x`` and ``y`` are preprocessed image batches; a batch of one broadcasts.
        """
        return (self.embed(x) * self.embed(y)).sum(dim=1)

    @property
    def device(self) -> torch.device:
        """Where the weights are (the first parameter, else the first buffer; CPU without either)."""
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def describe(self) -> dict:
        """Plain-data summary for tables and JSON."""
        return {
            "name": self.name,
            "input_size": list(self.input_size),
            "embedding_dim": self.embedding_dim,
            "num_classes": self.num_classes,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
        }
