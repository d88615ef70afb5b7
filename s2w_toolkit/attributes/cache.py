"""Attribute predictions cached per aligned face, for runs that see the same faces many times.

In a benchmark or an audit a face appears in many pairs; :class:`CachedAttributes` predicts each
(face pixels, template) once and serves it again from memory, within a byte budget (least
recently used first out). Faces are predicted one at a time, so a face's prediction never
depends on which faces it came with: a cached run gives the same numbers as an uncached one,
and as the same run spread over workers.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.interfaces import AttributeModel
    >>> from s2w_toolkit.attributes.prediction import AttributePrediction
    >>> class Bright(AttributeModel):
    ...     name, attributes, calls = "bright", ("Bright",), 0
    ...     def predict(self, images, template=None):
    ...         Bright.calls += len(images)
    ...         lit = [[bool(f.mean() > 100)] for f in images]
    ...         return AttributePrediction.build(["Bright"], [["Bright"]] * len(images), [[1.0]] * len(images),
    ...                                          lit, np.zeros((len(images), 1, 4, 4)), kinds=["binary"])
    >>> faces = np.stack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)])
    >>> model = CachedAttributes(Bright())
    >>> model.predict(faces).present.tolist(), model.predict(faces[::-1]).present.tolist(), Bright.calls
    ([[False], [True]], [[True], [False]], 2)
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np

from ..interfaces import AttributeModel
from .prediction import AttributePrediction

BUDGET_BYTES = 512 * 2 ** 20  # the maps dominate: 30 attributes of a 150 px face are 2.7 MB


class CachedAttributes(AttributeModel):
    """``model`` with its predictions kept per (face pixels, template).

    Example:
        >>> CachedAttributes.__init__.__doc__
        'Wrap ``model``; keep at most ``budget`` bytes of predictions.'
    """

    def __init__(self, model: AttributeModel, budget: int = BUDGET_BYTES) -> None:
        """Wrap ``model``; keep at most ``budget`` bytes of predictions."""
        self.model, self.budget = model, budget
        self.name, self.attributes = model.name, model.attributes
        self.regions = model.word_regions()
        self._kept: OrderedDict[bytes, tuple[AttributePrediction, int]] = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = 0

    def __getattr__(self, name: str) -> Any:  # anything else is the model's
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def to(self, device: Any) -> "CachedAttributes":
        self.model = self.model.to(device)
        self._kept.clear()
        self.nbytes = 0
        return self

    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        images = np.asarray(images)
        tag = repr(getattr(template, "name", template)).encode()
        parts = []
        for face in images:
            key = hashlib.blake2b(np.ascontiguousarray(face).tobytes() + repr(face.shape).encode() + tag,
                                  digest_size=16).digest()
            found = self._kept.get(key)
            if found is not None:
                self.hits += 1
                self._kept.move_to_end(key)
                parts.append(found[0])
                continue
            self.misses += 1
            one = self.model.predict(face[None], template)
            parts.append(one)
            size = sum(t.numel() * t.element_size() for t in (one.maps, one.confidences, one.present, one.values))
            self._kept[key] = (one, size)
            self.nbytes += size
            while self.nbytes > self.budget and self._kept:
                _, (_, dropped) = self._kept.popitem(last=False)
                self.nbytes -= dropped
        return AttributePrediction.stack(parts)
