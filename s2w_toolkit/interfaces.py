"""The ``Explainer`` and ``AttributeModel`` interfaces and the ``Pair`` they receive.

These are torch-free to import, so plugins can be listed without loading torch. ``Backbone``
lives in :mod:`s2w_toolkit.backbone` because it is an ``nn.Module``.

Example:
    >>> class Constant(Explainer):
    ...     name = "constant"
    ...     def explain(self, pair, backbone, attributes=None):
    ...         import numpy as np
    ...         return Explanation(score=0.0, maps={"a": np.ones((2, 2)), "b": np.ones((2, 2))})
    >>> Constant().name
    'constant'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .explanation import Explanation


@dataclass
class Pair:
    """Two aligned faces ready for a backbone.

    ``a`` and ``b`` are the preprocessed ``(1, 3, H, W)`` tensors on the chosen device;
    ``image_a`` and ``image_b`` the aligned RGB uint8 faces ``(H, W, 3)`` for rendering.
    """

    a: Any
    b: Any
    image_a: np.ndarray
    image_b: np.ndarray
    source_a: str = "a"
    source_b: str = "b"
    info: dict = field(default_factory=dict)


@dataclass
class Attribute:
    """One attribute of one aligned face: its word, confidence, decision and evidence map."""

    word: str
    confidence: float
    present: bool
    map: np.ndarray | None = None
    group: str = ""


class AttributeModel(ABC):
    """Predicts attributes of aligned faces ("Big Nose", "Senior", ...) with evidence maps.

    Example:
        >>> class AlwaysSmiling(AttributeModel):
        ...     name = "always-smiling"
        ...     words = ("Smiling",)
        ...     def predict(self, face):
        ...         return [Attribute("Smiling", 1.0, True)]
        >>> AlwaysSmiling().predict(None)[0].word
        'Smiling'
    """

    name: ClassVar[str] = ""
    #: Every word this model can speak.
    words: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def predict(self, face: np.ndarray) -> list[Attribute]:
        """Attributes of one aligned RGB uint8 face ``(H, W, 3)``."""


class Explainer(ABC):
    """Explains a pair's similarity: ``explain(pair, backbone, attributes=None) -> Explanation``.

    Example:
        >>> from s2w_toolkit.registry import get_registry
        >>> get_registry().explainer("input-gradient").name
        'input-gradient'
    """

    name: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        """Return the explanation of ``pair`` under ``backbone``."""
