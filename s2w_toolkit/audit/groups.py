"""Error rates per predicted group: FMR and FNMR at the threshold for the pairs whose two faces
the attribute models put in the same group of a category attribute (Gender, Age, ...), and for
the pairs they split ("mixed"), with counts and 95% Wilson intervals.

The groups are what the attribute models *predict* for each face, not ground truth: a model's
own errors move pairs between groups.

Example:
    >>> rows = [{"key": "p1", "same": True, "similarity": 0.3, "groups": {"a": {"Gender": "Female"}, "b": {"Gender": "Female"}}},
    ...         {"key": "p2", "same": True, "similarity": 0.9, "groups": {"a": {"Gender": "Female"}, "b": {"Gender": "Female"}}},
    ...         {"key": "p3", "same": False, "similarity": 0.7, "groups": {"a": {"Gender": "Male"}, "b": {"Gender": "Female"}}}]
    >>> rates = group_rates(rows, 0.5)["Gender"]
    >>> rates["Female"]["mates"], rates["Female"]["false_non_matches"], rates["Female"]["fnmr"]
    (2, 1, 0.5)
    >>> rates["mixed"]["non_mates"], rates["mixed"]["fmr"]
    (1, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..bench.stats import wilson
from .outcomes import scored

MIXED = "mixed"


def pair_group(groups: Mapping[str, Mapping[str, str]], attribute: str) -> str | None:
    """The group of a pair for ``attribute``: the word both faces got, ``"mixed"`` when they
    differ, None when a face has no word for it."""
    a, b = (groups.get(side, {}).get(attribute) for side in ("a", "b"))
    if a is None or b is None:
        return None
    return a if a == b else MIXED


def _rate(k: int, n: int) -> dict[str, Any]:
    low, high = wilson(k, n)
    return {"rate": k / n if n else None, "low": low if n else None, "high": high if n else None}


def group_rates(rows: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, dict[str, dict[str, Any]]]:
    """Attribute -> group -> ``mates``, ``false_non_matches``, ``fnmr`` (with ``fnmr_low`` and
    ``fnmr_high``), ``non_mates``, ``false_matches``, ``fmr`` (and its interval)."""
    counts: dict[str, dict[str, list[int]]] = {}
    for row in scored(rows):
        for attribute in sorted({a for side in (row.get("groups") or {}).values() for a in side}):
            group = pair_group(row["groups"], attribute)
            if group is None:
                continue
            c = counts.setdefault(attribute, {}).setdefault(group, [0, 0, 0, 0])  # mates, fnm, non-mates, fm
            accepted = row["similarity"] >= threshold
            if row["same"]:
                c[0] += 1
                c[1] += not accepted
            else:
                c[2] += 1
                c[3] += accepted
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for attribute, groups in sorted(counts.items()):
        out[attribute] = {}
        for group, (mates, fnm, non_mates, fm) in sorted(groups.items(), key=lambda kv: (kv[0] == MIXED, kv[0])):
            fnmr, fmr = _rate(fnm, mates), _rate(fm, non_mates)
            out[attribute][group] = {"mates": mates, "false_non_matches": fnm, "fnmr": fnmr["rate"],
                                     "fnmr_low": fnmr["low"], "fnmr_high": fnmr["high"], "non_mates": non_mates,
                                     "false_matches": fm, "fmr": fmr["rate"], "fmr_low": fmr["low"],
                                     "fmr_high": fmr["high"]}
    return out


def face_groups(prediction: Any, index: int) -> dict[str, str]:
    """Category attribute -> word of face ``index`` of an
    :class:`~s2w_toolkit.attributes.prediction.AttributePrediction` (abstentions left out)."""
    return {name: prediction.words[index][j] for j, name in enumerate(prediction.names)
            if prediction.kinds[j] == "category" and bool(prediction.present[index, j])}
