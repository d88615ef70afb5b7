"""``AttributePrediction``: what every attribute model returns for a batch of aligned faces.

Example:
    >>> import numpy as np
    >>> p = AttributePrediction.build(["Gender", "Big Nose"], [["Male", "Big Nose"]], [[0.9, 0.7]],
    ...                               [[True, False]], np.zeros((1, 2, 4, 4)), kinds=["category", "binary"])
    >>> p.n, p.a, p.maps.shape, p.eligible.tolist()
    (1, 2, torch.Size([1, 2, 4, 4]), [[True, False]])
    >>> p.rows(0)[0]["word"], AttributePrediction.concat([p, p]).a
    ('Male', 4)
    >>> AttributePrediction.stack([p, p]).take([1]).n
    1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

#: A "category" attribute (Gender, Age, Race, Hair colour) always names one of its classes; a
#: "binary" one (Big Nose, Smiling) is either present or not.
KINDS = ("category", "binary")


@dataclass
class AttributePrediction:
    """Attributes of N aligned faces, A columns.

    * ``names`` (A): attribute names ("Gender", "Big Nose");
    * ``words`` (N x A): the word each face gets ("Male", "Big Nose");
    * ``confidences`` (N, A): probability (or score in [0, 1]) of that word;
    * ``present`` (N, A) bool: a binary attribute is present; a category one is, unless the
      model abstained (it could not measure it, e.g. hair hidden);
    * ``maps`` (N, A, H, W) in [0, 1]: where the evidence lies, in the aligned face's frame;
    * ``kinds`` (A): ``"category"`` or ``"binary"``; ``models`` (A): which model spoke;
    * ``values`` (N, A) and ``thresholds`` (A): a measured value and its decision threshold
      where the model has them (NaN / None otherwise).

    Example:
        >>> p = AttributePrediction.build(["Smiling"], [["Smiling"], ["Smiling"]], [[0.8], [0.3]], [[True], [False]],
        ...                               np.zeros((2, 1, 4, 4)), kinds=["binary"], model="demo")
        >>> p.n, p.index("Smiling"), p.present[:, 0].tolist()
        (2, 0, [True, False])
        >>> {k: p.rows(1)[0][k] for k in ("word", "present", "model", "value")}
        {'word': 'Smiling', 'present': False, 'model': 'demo', 'value': None}
    """

    names: list[str]
    words: list[list[str]]
    confidences: torch.Tensor
    present: torch.Tensor
    maps: torch.Tensor
    kinds: list[str]
    models: list[str]
    values: torch.Tensor = field(default=None)  # type: ignore[assignment]
    thresholds: list[float | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n, a = self.confidences.shape
        if self.values is None:
            self.values = torch.full((n, a), math.nan)
        if not self.thresholds:
            self.thresholds = [None] * a
        checks = {"names": len(self.names), "kinds": len(self.kinds), "models": len(self.models),
                  "thresholds": len(self.thresholds), "maps": self.maps.shape[1], "present": self.present.shape[1],
                  "values": self.values.shape[1]}
        wrong = {k: v for k, v in checks.items() if v != a}
        if wrong or len(self.words) != n or any(len(row) != a for row in self.words) or self.maps.shape[0] != n:
            raise ValueError(f"inconsistent attribute prediction for {n} faces x {a} attributes: {wrong}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown attribute kind(s) {sorted(unknown)}; use one of {KINDS}")

    @classmethod
    def build(cls, names: Sequence[str], words: Sequence[Sequence[str]], confidences: Any, present: Any,
              maps: Any, kinds: Sequence[str], model: str | Sequence[str] = "", values: Any = None,
              thresholds: Sequence[float | None] | None = None) -> "AttributePrediction":
        """From lists, numpy arrays or tensors; ``model`` may be one name for every column."""
        a = len(names)
        return cls(
            names=list(names), words=[list(row) for row in words],
            confidences=torch.as_tensor(np.asarray(confidences, dtype=np.float32) if not torch.is_tensor(confidences)
                                        else confidences).float(),
            present=torch.as_tensor(present if torch.is_tensor(present) else np.asarray(present, bool)).bool(),
            maps=(maps if torch.is_tensor(maps) else torch.as_tensor(np.asarray(maps, np.float32))).float(),
            kinds=list(kinds), models=[model] * a if isinstance(model, str) else list(model),
            values=None if values is None else torch.as_tensor(np.asarray(values, np.float32)).float(),
            thresholds=list(thresholds) if thresholds is not None else [],
        )

    @property
    def n(self) -> int:
        return self.confidences.shape[0]

    @property
    def a(self) -> int:
        return len(self.names)

    @property
    def eligible(self) -> torch.Tensor:
        """(N, A) bool: the attributes Sim2Word may rank: the present ones. A category column is
        present unless its model abstained (it could not measure it); a binary one when it is seen.
        The same tensor as ``present`` (not a copy): read it, do not change it."""
        return self.present

    def index(self, name: str) -> int:
        """Column of the attribute called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no attribute {name!r}; known: {', '.join(self.names)}") from None

    @staticmethod
    def concat(predictions: Sequence["AttributePrediction"]) -> "AttributePrediction":
        """The union of several models' columns for the same faces (maps must share their size)."""
        sizes = {(p.n, *p.maps.shape[2:]) for p in predictions}
        if len(sizes) != 1:
            raise ValueError(f"cannot combine predictions of different faces or map sizes: {sorted(sizes)}")
        device = predictions[0].maps.device
        return AttributePrediction(
            names=[name for p in predictions for name in p.names],
            words=[[w for p in predictions for w in p.words[i]] for i in range(predictions[0].n)],
            confidences=torch.cat([p.confidences.to(device) for p in predictions], dim=1),
            present=torch.cat([p.present.to(device) for p in predictions], dim=1),
            maps=torch.cat([p.maps.to(device) for p in predictions], dim=1),
            kinds=[k for p in predictions for k in p.kinds],
            models=[m for p in predictions for m in p.models],
            values=torch.cat([p.values.to(device) for p in predictions], dim=1),
            thresholds=[t for p in predictions for t in p.thresholds],
        )

    def take(self, indices: Sequence[int]) -> "AttributePrediction":
        """The predictions of the faces at ``indices``, in that order."""
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return AttributePrediction(
            names=list(self.names), words=[list(self.words[i]) for i in index.tolist()],
            confidences=self.confidences[index.to(self.confidences.device)],
            present=self.present[index.to(self.present.device)], maps=self.maps[index.to(self.maps.device)],
            kinds=list(self.kinds), models=list(self.models), values=self.values[index.to(self.values.device)],
            thresholds=list(self.thresholds))

    @staticmethod
    def stack(predictions: Sequence["AttributePrediction"]) -> "AttributePrediction":
        """The predictions of several batches of faces by the same model(s), one after another."""
        first = predictions[0]
        if any(p.names != first.names or p.maps.shape[2:] != first.maps.shape[2:] for p in predictions):
            raise ValueError("cannot stack predictions of different attributes or map sizes")
        device = first.maps.device
        return AttributePrediction(
            names=list(first.names), words=[w for p in predictions for w in p.words],
            confidences=torch.cat([p.confidences.to(device) for p in predictions]),
            present=torch.cat([p.present.to(device) for p in predictions]),
            maps=torch.cat([p.maps.to(device) for p in predictions]), kinds=list(first.kinds),
            models=list(first.models), values=torch.cat([p.values.to(device) for p in predictions]),
            thresholds=list(first.thresholds))

    def rows(self, i: int) -> list[dict]:
        """One plain dict per attribute of face ``i``, for tables and JSON."""
        out = []
        for j, name in enumerate(self.names):
            value = float(self.values[i, j])
            out.append({"attribute": name, "word": self.words[i][j], "confidence": float(self.confidences[i, j]),
                        "present": bool(self.present[i, j]), "kind": self.kinds[j], "model": self.models[j],
                        "value": None if math.isnan(value) else value, "threshold": self.thresholds[j]})
        return out


def choose_classes(scores: list[torch.Tensor], weights: list[torch.Tensor], kinds: list[str]):
    """For heads linear on a pooled feature: per face and head, the probability of the chosen
    (most probable) class, that class, whether the attribute is present (a binary head's class 0;
    a category always), and the chosen class's weight row for :func:`s2w_toolkit.cam.linear_head_cams`.

    ``scores``: one ``(N, c_j)`` tensor of logits per head; ``weights``: one ``(c_j, C)`` per head.
    Returns ``(confidence (N, A), predicted (N, A), present (N, A), rows (N, A, C))``.

    Example:
        >>> conf, pred, present, rows = choose_classes([torch.tensor([[0.0, 2.0]])], [torch.eye(2)], ["binary"])
        >>> pred.tolist(), present.tolist(), rows.shape
        ([[1]], [[False]], torch.Size([1, 1, 2]))
    """
    probs = [torch.softmax(s, dim=1) for s in scores]
    confidence, predicted = (torch.stack(t, dim=1) for t in zip(*(p.max(dim=1) for p in probs)))
    rows = torch.stack([w[predicted[:, j]] for j, w in enumerate(weights)], dim=1)
    binary = torch.tensor([k == "binary" for k in kinds], device=predicted.device)
    return confidence, predicted, ~binary | (predicted == 0), rows
