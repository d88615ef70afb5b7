"""One row per attribute of a direction: its word, eligibility, s_j and the displayed score.

Example:
    >>> angular(0.0)
    0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def angular(cosine: Any) -> Any:
    """The displayed score ``1 - arccos(clip(s, -1, 1)) / pi`` in [0, 1], element-wise (a float
    for a float).

    >>> angular(1.0), angular(0.0), angular([-1.0, 2.0]).tolist()
    (1.0, 0.5, [0.0, 1.0])
    """
    value = 1.0 - np.arccos(np.clip(np.asarray(cosine, dtype=np.float64), -1.0, 1.0)) / np.pi
    return float(value) if value.ndim == 0 else value


def attribute_rows(prediction, i: int, scores: torch.Tensor, fractions: torch.Tensor, similarity: float,
                   ablation: str | None) -> list[dict]:
    """One row per attribute of face ``i``; every tensor is read back to the host once."""
    scores, fractions = scores.detach().cpu().tolist(), fractions.detach().cpu().tolist()
    if ablation == "no-attributes":
        s = float(scores[0])
        return [{"attribute": "H_d", "word": "counterfactual region", "model": "", "eligible": True,
                 "present": True, "s": s, "angular": angular(s), "delta": s - similarity, "valid": s > similarity,
                 "erased_fraction": float(fractions[0]), "confidence": 1.0}]
    present = prediction.present[i].cpu().tolist()
    eligible = prediction.eligible[i].cpu().tolist()
    confidences = prediction.confidences[i].cpu().tolist()
    angulars = angular(scores[:len(prediction.names)]).tolist()
    rows = []
    for j, name in enumerate(prediction.names):
        s = float(scores[j])
        rows.append({"attribute": name, "word": prediction.words[i][j], "model": prediction.models[j],
                     "eligible": bool(eligible[j]), "present": bool(present[j]),
                     "confidence": float(confidences[j]), "s": s, "angular": angulars[j],
                     "delta": s - similarity, "valid": s > similarity, "erased_fraction": float(fractions[j])})
    return rows
