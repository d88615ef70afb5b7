"""The ``Backbone`` interface: an embedding network that knows how to be fed and judged.

Example:
    >>> import torch
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet")
    >>> x = torch.zeros(2, 3, *net.input_size)
    >>> net(x).shape, net.similarity(x[:1], x[1:]).shape
    (torch.Size([2, 128]), torch.Size([1]))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .faces.templates import AlignmentTemplate


class Backbone(nn.Module, ABC):
    """An ``nn.Module`` whose ``forward`` maps preprocessed faces ``(N, 3, H, W)`` to ``(N, D)``.

    Subclasses set the class attributes and implement :meth:`forward`, :meth:`preprocess`,
    :attr:`cam_layer` and the :meth:`load` constructor used by the registry.
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

    @abstractmethod
    def preprocess(self, faces: np.ndarray) -> torch.Tensor:
        """Aligned RGB uint8 faces ``(N, H, W, 3)`` or ``(H, W, 3)`` to a float tensor ``(N, 3, H, W)``."""

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
        return next(self.parameters()).device

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
