"""Sim2Word's AUC drop, and the same drop with random placements of the erased masks as control.

:func:`auc_drop` is the official protocol: the verification AUC of the original scores minus
that after each non-mate direction takes the best of its eligible erasures. A max over erasures
can only raise a non-mate's score, so the drop is >= 0 for any erasure, informative or not.
:func:`auc_drop_control` computes the same drop with every attribute's mask moved to random
places inside the face (``placements`` of :class:`~s2w_toolkit.sim2word.core.Settings`): the
k-th control takes, per direction, the best over the same eligible attributes of their k-th
placement's cosine. The real drop is informative by as much as it exceeds the control's.
In both, a mate direction keeps its similarity (the official protocol erases non-mates only).

Records are per pair: ``{"same", "similarity", "best_erased": {"a", "b"}, "per_attribute":
{"a": {attr: s}, "b": ...}, "control_best": {"a": [K floats], "b": ...}}``;
:func:`record_from_explanation` builds everything but ``same`` and ``similarity`` from a
Sim2Word :class:`~s2w_toolkit.explainers.explanation.Explanation`.

Example:
    >>> records = [
    ...     {"same": True, "similarity": 0.9, "best_erased": {"a": 0.8, "b": 0.85},
    ...      "control_best": {"a": [0.7, 0.8], "b": [0.6, 0.5]}},
    ...     {"same": False, "similarity": 0.5, "best_erased": {"a": 0.95, "b": 0.4},
    ...      "control_best": {"a": [0.6, 0.95], "b": [0.3, 0.45]}}]
    >>> auc_drop(records)["drop"]
    0.5
    >>> out = auc_drop_control(records)
    >>> out["placements"], out["drops"], out["mean"], out["difference"]
    (2, [0.0, 0.5], 0.25, 0.25)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..sim2word.core import angular
from .metrics import FPRS, tpr_at_fpr, verification_auc

Erased = Callable[[Mapping[str, Any], str], Any]  # (record, side) -> erased cosine or None


def _after(records: Sequence[Mapping[str, Any]], erased: Erased) -> list[float]:
    """Angular "after" scores, one per pair and direction (a, b): a non-mate takes
    ``max(erased, similarity)`` (its similarity when ``erased`` is None), a mate its similarity."""
    return [angular(float(r["similarity"]) if bool(r["same"]) or erased(r, d) is None
                    else max(float(erased(r, d)), float(r["similarity"])))
            for r in records for d in "ab"]


def auc_drop(records: Sequence[Mapping[str, Any]], fprs: Sequence[float] = FPRS) -> dict[str, Any]:
    """Sim2Word's AUC drop over per-pair records ``{"same", "similarity", "best_erased": {"a",
    "b"}, "per_attribute": {"a": {attr: s}, "b": {...}}}``, on angular scores.

    "Original": one score per pair, ``angular(similarity)``. "After": one score per pair and
    direction (a, b): a non-mate takes ``angular(max(best_erased, similarity))`` (its similarity
    when ``best_erased`` is None), a mate keeps ``angular(similarity)``. Per attribute, "after"
    uses only that attribute's ``s`` (a non-mate direction without it keeps its similarity).
    ``drop = auc_original - auc_after``.
    """
    same = [bool(r["same"]) for r in records]
    labels = [s for s in same for _ in "ab"]
    original = [angular(float(r["similarity"])) for r in records]
    best = _after(records, lambda r, d: (r.get("best_erased") or {}).get(d))
    auc_original, auc_after = verification_auc(original, same), verification_auc(best, labels)
    names = sorted({a for r in records for side in (r.get("per_attribute") or {}).values() for a in side})
    per_attribute = {}
    for name in names:
        def erased(r: Mapping[str, Any], d: str, name: str = name) -> Any:
            return ((r.get("per_attribute") or {}).get(d) or {}).get(name)

        auc = verification_auc(_after(records, erased), labels)
        per_attribute[name] = {"auc_after": auc, "drop": auc_original - auc}
    return {"auc_original": auc_original, "auc_after": auc_after, "drop": auc_original - auc_after,
            "tpr_original": tpr_at_fpr(original, same, fprs), "tpr_after": tpr_at_fpr(best, labels, fprs),
            "per_attribute": per_attribute}


def _placements(records: Sequence[Mapping[str, Any]]) -> int:
    """K, the length that every direction's ``control_best`` list shares (None lists aside)."""
    lengths = {len(v) for r in records for v in (r.get("control_best") or {}).values() if v is not None}
    lengths |= {0 for r in records if not r.get("control_best")}
    if len(lengths) > 1:
        raise ValueError(f"records hold control_best lists of different lengths {sorted(lengths)}; "
                         "were they made with different placements?")
    return lengths.pop() if lengths else 0


def auc_drop_control(records: Sequence[Mapping[str, Any]], fprs: Sequence[float] = FPRS) -> dict[str, Any]:
    """The AUC drop with each direction's best erasure replaced by its k-th placement control
    ``control_best[side][k]``, for every k (see the module docs), beside the real drop.

    Returns ``placements`` (K), ``drops`` and ``auc_after`` (one per placement), their ``mean``,
    ``min``, ``max``, ``low`` and ``high`` (the 2.5 % and 97.5 % quantiles of the K drops,
    interpolated: where a random placement's drop falls, not an interval of the mean; with few
    placements it is close to min..max), the real ``drop`` of :func:`auc_drop` and ``difference``
    = drop - mean. A mate direction, or one whose ``control_best`` is None (no eligible
    attribute), keeps its similarity. Without placements (K = 0) the statistics are None.
    """
    k_count = _placements(records)
    labels = [bool(r["same"]) for r in records for _ in "ab"]
    auc_original = verification_auc([angular(float(r["similarity"])) for r in records], [r["same"] for r in records])
    real = auc_drop(records, fprs)["drop"]
    after = []
    for k in range(k_count):
        def erased(r: Mapping[str, Any], d: str, k: int = k) -> Any:
            values = (r.get("control_best") or {}).get(d)
            return None if values is None else values[k]

        after.append(verification_auc(_after(records, erased), labels))
    drops = [auc_original - auc for auc in after]
    out: dict[str, Any] = {"placements": k_count, "drops": drops, "auc_after": after, "drop": real}
    if not drops:
        return {**out, "mean": None, "min": None, "max": None, "low": None, "high": None, "difference": None}
    mean = float(np.mean(drops))
    low, high = (float(v) for v in np.quantile(drops, [0.025, 0.975]))
    return {**out, "mean": mean, "min": float(min(drops)), "max": float(max(drops)), "low": low, "high": high,
            "difference": real - mean}


def record_from_explanation(explanation: Any) -> dict[str, Any]:
    """``best_erased``, ``per_attribute`` and ``control_best`` of a Sim2Word explanation (an
    :class:`~s2w_toolkit.explainers.explanation.Explanation` or its JSON dict), from its metadata's
    direction rows: per side, the best s_j over the eligible attributes, each eligible s_j, and
    per placement k the best ``control_s[k]`` over the same attributes (None for a side with
    no eligible attribute, ``[]`` for rows without controls).

    >>> from types import SimpleNamespace
    >>> rows = [{"attribute": "Age", "eligible": True, "s": 0.7, "control_s": [0.6, 0.8]},
    ...         {"attribute": "Nose", "eligible": True, "s": 0.75, "control_s": [0.65, 0.5]},
    ...         {"attribute": "Lips", "eligible": False, "s": 0.9, "control_s": [0.9, 0.9]}]
    >>> e = SimpleNamespace(metadata={"directions": [{"target": "a", "attributes": rows},
    ...                                              {"target": "b", "attributes": rows[2:]}]})
    >>> record = record_from_explanation(e)
    >>> record["best_erased"], record["control_best"], record["per_attribute"]["a"]
    ({'a': 0.75, 'b': None}, {'a': [0.65, 0.8], 'b': None}, {'Age': 0.7, 'Nose': 0.75})
    """
    metadata = explanation["metadata"] if isinstance(explanation, Mapping) else explanation.metadata
    record: dict[str, Any] = {"best_erased": {}, "per_attribute": {}, "control_best": {}}
    for direction in metadata.get("directions", []):
        eligible = [r for r in direction["attributes"] if r["eligible"]]
        side = direction["target"]
        record["best_erased"][side] = max((r["s"] for r in eligible), default=None)
        record["per_attribute"][side] = {r["attribute"]: r["s"] for r in eligible}
        controls = [r.get("control_s") or [] for r in eligible]
        record["control_best"][side] = [max(values) for values in zip(*controls)] if eligible else None
    return record
