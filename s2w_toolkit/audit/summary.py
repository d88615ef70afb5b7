"""The summary of an audit (``audit.json``): counts, the threshold and how it was chosen, ROC,
DET and EER, the explained pairs (the gallery), the word tables, the per-group error rates with
their tests, the findings in sentences, and every error row.

Example:
    >>> rows = [{"key": f"p{i}", "same": i % 2 == 0, "similarity": v, "groups": {}} for i, v in
    ...         enumerate([0.9, 0.2, 0.8, 0.6, 0.3, 0.1])]
    >>> s = build_summary(rows, [], {"threshold": 0.5, "source": "given", "fmr": None})
    >>> s["counts"]["false_matches"], s["counts"]["false_non_matches"], s["verification"]["at_threshold"]["fmr"]
    (1, 1, 0.3333333333333333)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..bench.stats import holm, proportion_difference
from .groups import MIXED, group_rates
from .outcomes import ERRORS, outcomes, scored
from .words import findings as word_findings
from .words import word_table

GROUP_NOTE = ("Groups are what the attribute models predict for each face, not ground truth; a pair is in a group "
              "when both faces are predicted in it, and 'mixed' when they are predicted in different ones.")


def group_tests(rates: Mapping[str, Mapping[str, Mapping[str, Any]]], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Each group's FMR and FNMR against the other groups of its attribute (the ``mixed`` pairs,
    whose faces the models put in different groups, are left out of both sides; with two
    groups the comparison is made once), as two proportions with Fisher's test, Holm over all
    of them; ``finding`` where the difference has evidence."""
    tests = []
    for attribute, groups in rates.items():
        named = {name: g for name, g in groups.items() if name != MIXED}
        order = sorted(named)
        for group in order[:1] if len(order) == 2 else order:
            g = named[group]
            for rate, k, n in (("fmr", "false_matches", "non_mates"), ("fnmr", "false_non_matches", "mates")):
                rest_k = sum(o[k] for name, o in named.items() if name != group)
                rest_n = sum(o[n] for name, o in named.items() if name != group)
                if not g[n] or not rest_n:
                    continue
                tests.append({"attribute": attribute, "group": group, "rate": rate, "k": g[k], "n": g[n],
                              "rest_k": rest_k, "rest_n": rest_n, **proportion_difference(g[k], g[n], rest_k, rest_n)})
    for test, adjusted in zip(tests, holm([t["p_value"] for t in tests])):
        test["p_holm"] = adjusted
        test["finding"] = bool(adjusted is not None and adjusted < alpha and (test["low"] > 0 or test["high"] < 0))
    return sorted(tests, key=lambda t: t["p_holm"] if t["p_holm"] is not None else 2.0)


def _group_sentence(t: Mapping[str, Any]) -> str:
    name = "FMR" if t["rate"] == "fmr" else "FNMR"
    more = "higher" if t["difference"] > 0 else "lower"
    return (f"{name} is {more} for pairs predicted {t['group']} ({t['attribute']}): {t['k']} of {t['n']} against "
            f"{t['rest_k']} of {t['rest_n']} for the other {t['attribute']} pairs, difference {t['difference']:+.2f} "
            f"[{t['low']:+.2f}, {t['high']:+.2f}], Holm-adjusted p = {t['p_holm_all']:.2g} (predicted groups)")


def _gallery(explained: Sequence[Mapping[str, Any]], score_rows: Sequence[Mapping[str, Any]],
             kind: Mapping[str, str]) -> list[dict[str, Any]]:
    """One entry per explained pair, errors first (false matches by falling score, false
    non-matches by rising score), then the rest; each with its explainers' figures and words."""
    scores = {r["key"]: r for r in score_rows}
    per: dict[str, dict[str, Any]] = {}
    for row in explained:
        if row["key"] not in kind:
            continue
        entry = per.setdefault(row["key"], {"key": row["key"], "a": row["a"], "b": row["b"], "same": row["same"],
                                            "similarity": scores[row["key"]]["similarity"],
                                            "outcome": kind[row["key"]], "reasons": row.get("reasons", []),
                                            "explainers": []})
        entry["explainers"].append({k: row.get(k) for k in ("explainer", "figure", "json", "words", "error", "stage")
                                    if row.get(k) is not None})
    order = {"false match": 0, "false non-match": 1}

    def rank(e: Mapping[str, Any]) -> tuple:
        sign = -1 if e["outcome"] == "false match" else 1
        return (order.get(e["outcome"], 2), sign * e["similarity"], e["key"])

    return sorted(per.values(), key=rank)


def build_summary(score_rows: Sequence[Mapping[str, Any]], explained: Sequence[Mapping[str, Any]],
                  threshold: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The audit's summary from its rows (see the module docstring)."""
    from ..bench.verification import verification_summary

    t = threshold["threshold"]
    pairs = scored(score_rows)
    kind = outcomes(pairs, t)
    counts = {"pairs": extra.pop("listed", len(score_rows)), "scored": len(pairs),
              "load_errors": sum("error" in r for r in score_rows),
              "mates": sum(bool(r["same"]) for r in pairs), "non_mates": sum(not r["same"] for r in pairs),
              **{o.replace(" ", "_").replace("-", "_") + "es": sum(v == o for v in kind.values())
                 for o in ("false match", "false non-match", "true match", "true non-match")},
              "explained_pairs": len({r["key"] for r in explained if r["key"] in kind}),
              "explanation_errors": sum("error" in r for r in explained)}
    verification = None
    if counts["mates"] and counts["non_mates"]:
        verification = verification_summary([r["similarity"] for r in pairs], [bool(r["same"]) for r in pairs], t)
    current = [r for r in explained if r["key"] in kind]
    words = word_table(current, kind)
    rates = group_rates(pairs, t)
    tests = group_tests(rates)
    candidates = [r for table in words.values() for r in table] + tests  # one Holm over all that may be claimed
    for row, adjusted in zip(candidates, holm([r["p_value"] for r in candidates])):
        row["p_holm_all"] = adjusted
        row["finding"] = bool(row["finding"] and adjusted is not None and adjusted < 0.05)
    ranked = sorted(word_findings(words) + [(g["p_holm_all"], _group_sentence(g)) for g in tests if g["finding"]])
    sentences = [s for _, s in ranked]
    if not sentences:
        errors = counts["false_matches"] + counts["false_non_matches"]
        sentences = [f"No attribute word and no predicted group goes with the errors with evidence at these counts "
                     f"({errors} errors in {counts['scored']} pairs); no such claim is made."]
    return {"kind": "s2w-audit", **extra, "threshold": dict(threshold), "counts": counts,
            "verification": verification,
            "scores": [[r["key"], r["similarity"], bool(r["same"]), kind[r["key"]]] for r in pairs],
            "gallery": _gallery(current, pairs, kind), "words": words, "groups": rates, "group_tests": tests,
            "group_note": GROUP_NOTE, "findings": sentences,
            "errors": [{k: r.get(k) for k in ("key", "explainer", "stage", "error") if r.get(k) is not None}
                       for r in [*score_rows, *explained] if "error" in r]}


def summarise_audit(folder: str | Path, score_rows: Sequence[Mapping[str, Any]], explained: Sequence[Mapping[str, Any]],
                    threshold: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """:func:`build_summary`, written atomically to ``folder/audit.json``."""
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    summary = build_summary(score_rows, explained, threshold, **extra)
    write_text(Path(folder) / "audit.json", dumps(summary, indent=1))
    return summary


__all__ = ["ERRORS", "build_summary", "group_tests", "summarise_audit"]
