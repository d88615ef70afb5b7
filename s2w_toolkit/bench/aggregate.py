"""Per explainer, per pair type and per side: means with bootstrap intervals, and the comparison
with the content-free controls.

For every :class:`~s2w_toolkit.bench.metric.Score` of every metric, and every pair type
(``mate``, ``non-mate``) and side (``a``, ``b``, and ``both``: the mean of the two sides of a
pair), a cell holds ``mean``, ``low``, ``high`` (95% bootstrap interval over pairs), ``n``
(pairs) and ``better`` (the direction for this explainer's claimed evidence and this pair type).
For a judged score of an explainer that is not itself a control, ``versus`` holds the paired
difference explainer - control against each control, the ``control`` that is best in that
direction, the difference against it with its interval, and ``beats``: whether the
difference against *every* control lies wholly on the good side of zero.

Below :data:`~s2w_toolkit.bench.stats.MIN_PAIRS_FOR_CLAIM` pairs no claim is made: a cell gets
``too_few`` (the reason, which ``summary.md`` shows instead of its interval; ``low`` and ``high``
stay the bootstrap's, for the plots), and ``versus`` has no interval and ``beats`` None.

Example:
    >>> from s2w_toolkit.bench.builtin_metrics import Cost
    >>> rows = [{"key": k, "explainer": e, "same": True, "role": r, "evidence": "similarity", "settings": {"seed": 0},
    ...          "metrics": {"cost": {"both": {"seconds": s, "forward_passes": 1}}}}
    ...         for k in "pq" for e, r, s in (("x", "explainer", 1.0), ("random", "control", 2.0))]
    >>> out = aggregate(rows, [Cost()], seed=0)
    >>> out["x"]["results"]["mate"]["both"]["seconds"]["mean"], out["random"]["role"]
    (1.0, 'control')
"""

from __future__ import annotations

from typing import Any

from .builtin_metrics import pair_type
from .metric import Metric
from .stats import excludes_zero, mean_ci, paired_difference, too_few

Values = dict[str, dict[str, dict[str, dict[str, float]]]]  # pair type -> side -> score -> pair key -> value


def _values(rows: list[dict], metrics: list[Metric]) -> Values:
    out: Values = {}
    for row in rows:
        kind = pair_type(row)
        for metric in metrics:
            value = (row.get("metrics") or {}).get(metric.name)
            if value is None:
                continue
            sides = metric.side_values(value)
            if "both" not in sides and "a" in sides and "b" in sides:
                common = set(sides["a"]) & set(sides["b"])
                sides["both"] = {k: (sides["a"][k] + sides["b"][k]) / 2 for k in common}
            for side, scores in sides.items():
                for score, number in scores.items():
                    out.setdefault(kind, {}).setdefault(side, {}).setdefault(score, {})[row["key"]] = number
    return out


def aggregate(rows: list[dict], metrics: list[Metric], seed: int = 0) -> dict[str, dict]:
    """Per explainer: ``pairs``, ``failed`` (error rows), ``metric_errors`` (rows per failed metric),
    ``role``, ``evidence``, ``results`` (the cells described
    in the module docstring), ``beats_controls`` (pair type -> score -> bool, side ``both``) and
    each metric's pooled result (``metric.summarise``) under its name."""
    names = list(dict.fromkeys(row["explainer"] for row in rows))
    scores = {s.name: s for m in metrics for s in m.scores}
    values, out = {}, {}
    for name in names:
        mine = [r for r in rows if r["explainer"] == name]
        ok = [r for r in mine if "error" not in r]
        first = ok[0] if ok else mine[0]
        values[name] = _values(ok, metrics)
        metric_errors: dict[str, int] = {}
        for row in ok:
            for metric in row.get("metric_errors", {}):
                metric_errors[metric] = metric_errors.get(metric, 0) + 1
        out[name] = {"pairs": len(ok), "failed": len(mine) - len(ok), "metric_errors": metric_errors,
                     "role": first.get("role", "explainer"), "evidence": first.get("evidence", "similarity"),
                     "results": {}}
        for metric in metrics:
            carrying = [r for r in ok if metric.name in (r.get("metrics") or {})]
            pooled = metric.summarise(carrying) if carrying else None
            if pooled is not None:
                out[name][metric.name] = pooled
    controls = [n for n in names if out[n]["role"] == "control" and out[n]["pairs"]]
    for name in names:
        summary = out[name]
        for kind, sides in values[name].items():
            for side, per_score in sides.items():
                for score_name, per_pair in per_score.items():
                    score = scores[score_name]
                    better = score.direction(summary["evidence"], kind)
                    cell = {**mean_ci(list(per_pair.values()), seed), "better": better}
                    if too_few(cell["n"]):
                        cell["too_few"] = too_few(cell["n"])
                    if score.judged and better != "none" and summary["role"] != "control" and controls:
                        cell["versus"] = _versus(per_pair, {c: values[c].get(kind, {}).get(side, {}).get(score_name, {})
                                                            for c in controls}, better, seed)
                    summary["results"].setdefault(kind, {}).setdefault(side, {})[score_name] = cell
        summary["beats_controls"] = {kind: {s: c["versus"]["beats"] for s, c in sides.get("both", {}).items()
                                            if "versus" in c}
                                     for kind, sides in summary["results"].items()}
    return out


def _versus(mine: dict[str, float], controls: dict[str, dict[str, float]], better: str, seed: int) -> dict[str, Any]:
    """The paired difference against each control, the best control in direction ``better``, and
    whether every difference's interval excludes zero on the good side."""
    each = {c: paired_difference(mine, theirs, seed) for c, theirs in controls.items() if theirs}
    each = {c: d for c, d in each.items() if d["n"]}
    if not each:
        return {"control": None, "difference": None, "low": None, "high": None, "beats": None, "controls": {}}
    # the best control on the pairs both measured: the smallest difference when higher is better
    best = (min if better == "higher" else max)(each, key=lambda c: each[c]["mean"])
    controls_out = {c: {"difference": d["mean"], "low": d["low"], "high": d["high"], "n": d["n"]}
                    for c, d in each.items()}
    reason = too_few(min(d["n"] for d in each.values()))
    if reason:  # a mean, but no interval and no verdict
        return {"control": best, "difference": each[best]["mean"], "low": None, "high": None, "beats": None,
                "too_few": reason, "controls": {c: {**d, "low": None, "high": None} for c, d in controls_out.items()}}
    verdicts = [excludes_zero(d, better) for d in each.values()]
    return {"control": best, "difference": each[best]["mean"], "low": each[best]["low"], "high": each[best]["high"],
            "beats": all(verdicts), "controls": controls_out}
