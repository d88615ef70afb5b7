"""The swap game's numbers: per explainer, region, form (self, probe) and kind (swap, null), each
score's mean with its 95% bootstrap interval over cases, the paired difference against each
control (``random``, ``centre``) and whether the explainer beats both (every difference's
interval above zero). Below :data:`~s2w_toolkit.bench.stats.MIN_PAIRS_FOR_CLAIM` cases no
interval is shown and no claim is made. Words: the share of cases on which the explainer names
a word for the swapped face (``named``), and, where the words' regions are known, on which its
top word speaks about the planted region (``found``).

Example:
    >>> rows = [{"case": f"c{i}", "form": "self", "kind": "swap", "region": "nose", "explainer": e,
    ...          "scores": {"mass_ratio": m + 0.1 * i, "pointing": 1.0, "hit_auc": 0.6}, "words": []}
    ...         for i in range(8) for e, m in (("oracle", 5.0), ("random", 1.0), ("centre", 2.0))]
    >>> cell = summarise(rows)["cells"]["oracle"]["nose"]["self"]["swap"]["mass_ratio"]
    >>> round(cell["mean"], 2), cell["beats"]
    (5.35, True)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..explainers.control_names import CONTROLS
from ..bench.stats import excludes_zero, mean_ci, paired_difference, too_few, wilson
from .scores import SCORES

ALL_REGIONS = "all"


def _cell(values: dict[str, float], controls: dict[str, dict[str, float]], direction: str,
          is_control: bool = False) -> dict[str, Any]:
    ci = mean_ci(list(values.values()))
    reason = too_few(ci["n"])
    cell: dict[str, Any] = {"mean": ci["mean"], "n": ci["n"], "low": None if reason else ci["low"],
                            "high": None if reason else ci["high"], "versus": {}, "beats": None}
    if reason:
        cell["too_few"] = reason
    verdicts = []
    for name, other in controls.items():
        diff = paired_difference(values, other)
        if diff["n"] == 0:
            continue
        low_high = {"low": None, "high": None} if too_few(diff["n"]) else {"low": diff["low"], "high": diff["high"]}
        cell["versus"][name] = {"difference": diff["mean"], **low_high}
        verdicts.append(excludes_zero(low_high, direction))
    if verdicts and len(verdicts) == len(controls) and None not in verdicts and not is_control:
        cell["beats"] = all(verdicts)  # a control is compared with the other, but judged by nobody
    return cell


def _word_cell(rows: list[dict], word_regions: Mapping[str, Sequence[str]] | None) -> dict[str, Any]:
    n = len(rows)
    named = sum(bool(r.get("words")) for r in rows)
    cell: dict[str, Any] = {"n": n, "named": named / n if n else None, "named_ci": list(wilson(named, n)) if n else None}
    if word_regions is not None and n:
        found = sum(bool(r.get("words")) and r["region"] in word_regions.get(r["words"][0]["attribute"], ())
                    for r in rows)
        cell.update({"found": found / n, "found_ci": list(wilson(found, n))})
    return cell


def summarise(rows: Sequence[dict], controls: Sequence[str] = CONTROLS,
              word_regions: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """``{"cells": {explainer: {region: {form: {kind: {score: cell}}}}}, "words": ..., "errors": ...}``
    of the game's score rows (``region`` ``"all"`` pools the regions)."""
    good = [r for r in rows if "error" not in r]
    grouped: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    word_rows: dict[tuple, list[dict]] = defaultdict(list)
    for r in good:
        for region in (r["region"], ALL_REGIONS):
            key = (r["explainer"], region, r["form"], r["kind"])
            for score, value in r["scores"].items():
                grouped[key][score][r["case"]] = value
            word_rows[key].append(r)
    cells: dict = {}
    words: dict = {}
    for (explainer, region, form, kind), by_score in sorted(grouped.items()):
        out = cells.setdefault(explainer, {}).setdefault(region, {}).setdefault(form, {}).setdefault(kind, {})
        for score, values in by_score.items():
            direction = SCORES.get(score, ("higher", None))[0]
            versus = {c: grouped.get((c, region, form, kind), {}).get(score, {}) for c in controls if c != explainer}
            out[score] = _cell(values, {c: v for c, v in versus.items() if v}, direction, explainer in controls)
        if any(r.get("words") for r in word_rows[(explainer, region, form, kind)]) or explainer not in controls:
            words.setdefault(explainer, {}).setdefault(region, {}).setdefault(form, {})[kind] = _word_cell(
                word_rows[(explainer, region, form, kind)], word_regions)
    errors = [r for r in rows if "error" in r]
    return {"cells": cells, "words": words, "errors": len(errors),
            "failed": dict(sorted({r["explainer"]: sum(e["explainer"] == r["explainer"] for e in errors)
                                   for r in errors}.items()))}
