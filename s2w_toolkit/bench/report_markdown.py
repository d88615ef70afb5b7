"""``summary.md``: the benchmark summary as tables for people.

One table per pair type with every judged score of each explainer (mean and 95% interval),
its difference against the best control and whether it beats both; the controls' own rows;
then the per-side tables, the backbone's verification quality, the sanity check, Sim2Word's
AUC drop with its control, the replacement error rates and the cost.

Below :data:`~s2w_toolkit.bench.stats.MIN_PAIRS_FOR_CLAIM` pairs of a type a table shows means
only: no interval, no "beats", and a line that says why (decided from each cell's ``n``, so a
summary written before the rule reads the same).

Example:
    >>> s = {"settings": {"backbone": "b", "fill": "road", "steps": 4, "seed": 0, "pairs": "p"}, "metrics": {},
    ...      "explainers": {}, "run": {}}
    >>> markdown(s).splitlines()[0]
    '# s2w benchmark: b, fill road, 4 steps, seed 0'
"""

from __future__ import annotations

from .builtin_metrics import PAIR_TYPES
from .outputs import difference, interval, number
from .stats import MIN_PAIRS_FOR_CLAIM, too_few

#: Why a table of fewer pairs shows means only (the intro of ``summary.md``).
FEW_PAIRS_RULE = (f"Intervals and \"beats\" need at least {MIN_PAIRS_FOR_CLAIM} pairs of a type; below that a table "
                  "shows means only: differences of fewer pairs are not significant at the 5% level by an exact sign "
                  f"test even when all have one sign (p = 2 x 0.5^n, 0.0625 at n = {MIN_PAIRS_FOR_CLAIM - 1}), yet "
                  "their bootstrap interval would exclude 0 (of one pair it has zero width).")

SIDE_NAMES = {"both": "both sides (mean of a and b per pair)", "a": "side a", "b": "side b"}


def _judged(summary: dict) -> list[tuple[str, str]]:
    """(score, label) of every score compared with the controls."""
    return [(name, info["label"]) for metric in summary["metrics"].values()
            for name, info in metric["scores"].items() if info["judged"]]


def _reported(summary: dict) -> list[tuple[str, str]]:
    return [(name, info["label"]) for metric in summary["metrics"].values() if metric["category"] != "cost"
            for name, info in metric["scores"].items() if not info["judged"]]


def _versus_pairs(versus: dict) -> int:
    """The fewest pairs on which a difference against a control was measured."""
    return min((c.get("n") or 0 for c in (versus.get("controls") or {}).values()), default=0)


def _mean(cell: dict) -> str:
    """``mean [low, high]``, or the mean alone below the minimum number of pairs."""
    return number(cell.get("mean")) if too_few(cell.get("n") or 0) else interval(cell)


def _difference(versus: dict | None) -> str:
    """The difference against the best control with its verdict, or without one below the minimum."""
    if not versus or versus.get("difference") is None or not too_few(_versus_pairs(versus)):
        return difference(versus)
    return f"{number(versus['difference'])} vs {versus['control']}, no claim"


def _pair_table(summary: dict, kind: str, side: str) -> list[str]:
    judged = _judged(summary)
    explainers = {n: e for n, e in summary["explainers"].items() if kind in e["results"]}
    if not explainers:
        return []
    pairs = max((c["n"] for e in explainers.values() for c in e["results"][kind].get(side, {}).values()), default=0)
    reason = too_few(pairs)
    lines = [f"### {kind}s, {SIDE_NAMES[side]} ({pairs} pairs)", ""]
    if reason:
        lines += [f"No intervals and no claims in this table: {reason}.", ""]
    lines += ["| explainer | claims | " + " | ".join(f"{label} | {label} minus best control" for _, label in judged)
             + " | beats both controls on |", "|" + " --- |" * (3 + 2 * len(judged))]
    for name, info in explainers.items():
        cells = info["results"][kind].get(side, {})
        control = info["role"] == "control"
        row = [name + (" (control)" if control else ""), "-" if control else info["evidence"]]
        beats, unclaimed = [], False
        for score, label in judged:
            cell = cells.get(score)
            if cell is None:
                row += ["-", "-"]
                continue
            versus = cell.get("versus") or {}
            row += [f"{_mean(cell)} {cell['better']} is better", _difference(cell.get("versus"))]
            if versus.get("difference") is not None and too_few(_versus_pairs(versus)):
                unclaimed = True
            elif versus.get("beats"):
                beats.append(label)
        verdict = ", ".join(beats) or ("no claim (too few pairs)" if unclaimed else "none")
        row.append("-" if info["role"] == "control" else verdict)
        lines.append("| " + " | ".join(row) + " |")
    reported = [(s, label) for s, label in _reported(summary)
                if any(s in e["results"][kind].get(side, {}) for e in explainers.values())]
    if reported:
        lines += ["", "| explainer | " + " | ".join(label for _, label in reported) + " |",
                  "|" + " --- |" * (1 + len(reported))]
        for name, info in explainers.items():
            cells = info["results"][kind].get(side, {})
            lines.append(f"| {name} | " + " | ".join(_mean(cells[s]) if s in cells else "-" for s, _ in reported)
                         + " |")
    return lines + [""]


def verification_lines(result: dict) -> list[tuple[str, str]]:
    """(measure, value) lines of the backbone's verification summary, for tables."""
    at = result["at_threshold"]
    eer = result.get("eer") or {}
    lines = [("pairs", f"{result['mates']} mates, {result['non_mates']} non-mates"),
             ("ROC-AUC", number(result.get("roc_auc"), 4)),
             ("EER", f"{number(eer.get('eer'), 4)} at threshold {number(eer.get('threshold'), 4)}"),
             (f"FMR at threshold {at['threshold']:.4f}", f"{number(at['fmr'], 4)} ({at['false_matches']} of "
                                                         f"{at['non_mates']} non-mates accepted)"),
             (f"FNMR at threshold {at['threshold']:.4f}", f"{number(at['fnmr'], 4)} ({at['false_non_matches']} of "
                                                          f"{at['mates']} mates rejected)")]
    for entry in result.get("tpr_at_fmr") or []:
        lines.append((f"TPR at FMR {entry['fmr']:g}", entry["note"] or number(entry["tpr"], 4)))
    return lines


def _verification(summary: dict) -> list[str]:
    result = summary["run"].get("verification")
    if not result:
        return []
    return ["## The backbone on these pairs", "", "| measure | value |", "| --- | --- |",
            *[f"| {k} | {v} |" for k, v in verification_lines(result)], "", "ROC and DET curves: `roc.png`.", ""]


def _sanity(summary: dict) -> list[str]:
    rows = [(n, e["sanity"]) for n, e in summary["explainers"].items() if e.get("sanity")]
    if not rows:
        return []
    lines = ["## Sanity check: maps under a randomised backbone", "",
             "|Spearman| and SSIM between each map and the map under a backbone whose top layers are "
             "re-initialised (cascading from the output); low is what a method that depends on the model shows.", "",
             "| explainer | randomised | pairs | abs Spearman | SSIM | flagged |", "| --- | --- | --- | --- | --- | --- |"]
    for name, sanity in rows:
        for level in sanity["levels"]:
            lines.append(f"| {name} | {level['label']} | {level['spearman']['n']} | {interval(level['spearman'])} | "
                         f"{interval(level['ssim'])} | {'yes' if sanity['flagged'] and level is sanity['levels'][-1] else ''} |")
    return lines + [""]


def _auc_drop(summary: dict) -> list[str]:
    rows = [(n, e["auc-drop"]) for n, e in summary["explainers"].items() if e.get("auc-drop")]
    lines = []
    for name, result in rows:
        drop, control = result["drop"], result["control"]
        lines += [f"## {name}: AUC drop with its control", "",
                  f"- verification AUC {number(drop['auc_original'], 4)}, after erasing the best attribute "
                  f"{number(drop['auc_after'], 4)}: drop {number(drop['drop'], 4)}",
                  f"- the same masks at random places in the face: drop {number(control.get('mean'), 4)} "
                  f"[{number(control.get('low'), 4)}, {number(control.get('high'), 4)}] over "
                  f"{control.get('placements', '?')} placements; real minus control {number(control.get('difference'), 4)}",
                  ""]
    return lines


def _replacement(summary: dict) -> list[str]:
    lines = []
    for name, info in summary["explainers"].items():
        for kind, strategies in (info.get("replacement") or {}).get("rates", {}).items():
            rate = "FNMR" if kind == "mate" else "FMR"
            if not lines:
                lines = ["## Error rates after pixel replacement (xSSAB)", "",
                         "| explainer | pairs | strategy | " + " | ".join(f"p={p}" for p in (1, 5, 10, 25, 50)) + " |",
                         "|" + " --- |" * 8]
            for strategy, per_p in strategies.items():
                cells = [number(per_p[p][rate.lower()]) if p in per_p else "" for p in ("1", "5", "10", "25", "50")]
                lines.append(f"| {name} | {kind}s ({rate}) | {strategy} | " + " | ".join(cells) + " |")
    return lines + [""] if lines else []


def _cost(summary: dict) -> list[str]:
    lines = ["## Cost per explanation (after a warm-up run)", "", "| explainer | seconds | images through the backbone |",
             "| --- | --- | --- |"]
    for name, info in summary["explainers"].items():
        pooled: dict[str, list] = {}
        for kind in info["results"].values():
            for score in ("seconds", "forward_passes"):
                if score in kind.get("both", {}):
                    pooled.setdefault(score, []).append(kind["both"][score])
        if not pooled:
            continue
        mean = {s: sum(c["mean"] * c["n"] for c in v) / sum(c["n"] for c in v) for s, v in pooled.items()}
        lines.append(f"| {name} | {number(mean.get('seconds'))} | {number(mean.get('forward_passes'), 0)} |")
    return lines + [""]


def markdown(summary: dict) -> str:
    """The whole ``summary.md``."""
    s = summary["settings"]
    lines = [f"# s2w benchmark: {s.get('backbone')}, fill {s.get('fill')}, {s.get('steps')} steps, seed {s.get('seed')}",
             "", f"Pairs: {s.get('pairs')}; threshold {s.get('threshold')}. Intervals are 95% bootstrap intervals "
             "over pairs. \"beats\" means the difference against every control lies wholly on the better side of 0. "
             + FEW_PAIRS_RULE, ""]
    failed = {n: e["failed"] for n, e in summary["explainers"].items() if e["failed"]}
    if failed:
        lines += ["Failed rows: " + ", ".join(f"{n} {k}" for n, k in failed.items()), ""]
    lines += _verification(summary)
    for side in ("both", "a", "b"):
        for kind in PAIR_TYPES:
            lines += _pair_table(summary, kind, side)
    lines += _sanity(summary) + _auc_drop(summary) + _replacement(summary) + _cost(summary)
    return "\n".join(lines) + "\n"
