"""Which attribute words go with the matcher's errors: each supported word's frequency in false
matches against true non-matches, and in false non-matches against true matches.

A word counts for a pair when the explainer named it as a supported word of that pair (for
Sim2Word: it beats its random placements and the selection-matched control). The pairs
compared are the explained errors and the seeded sample of correct pairs (pairs explained only
for being near the threshold are left out), so the numbers describe those pairs. Each comparison is
a difference of two proportions with Newcombe's interval and Fisher's exact test; the p-values
are Holm-adjusted over the words of one comparison, and a word is a finding only when the
adjusted p-value is below ``alpha`` and the interval excludes zero.

Example:
    >>> kind = {"f1": "false match", "f2": "false match", "t1": "true non-match", "t2": "true non-match"}
    >>> rows = [{"key": k, "explainer": "sim2word", "words": [{"text": "Gray Hair"}] if k[0] == "f" else []}
    ...         for k in kind]
    >>> table = word_table(rows, kind)["sim2word"]
    >>> [(r["word"], r["errors"], r["errors_n"], r["correct"], r["correct_n"]) for r in table if r["error"] == "false match"]
    [('Gray Hair', 2, 2, 0, 2)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..bench.stats import holm, proportion_difference
from .outcomes import ERRORS


def supported_words(row: Mapping[str, Any]) -> set[str]:
    """The words an explained row names as supported."""
    return {w["text"] for w in row.get("words") or () if w.get("supported", True)}


def word_table(rows: Sequence[Mapping[str, Any]], kind: Mapping[str, str],
               alpha: float = 0.05) -> dict[str, list[dict[str, Any]]]:
    """Per explainer that names words: one row per (error type, word) seen in its explained
    pairs of that pair type, with counts, the difference of proportions (error minus correct),
    its interval, p-values (raw and Holm-adjusted) and ``finding``; sorted by adjusted p-value."""
    per: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        if "error" in row or row.get("words") is None or row["key"] not in kind:
            continue
        if row.get("reasons") and all(r.startswith("near the threshold") for r in row["reasons"]):
            continue  # compared: the errors against the seeded sample of correct pairs, not the near ones
        per.setdefault(row["explainer"], {})[row["key"]] = supported_words(row)
    out: dict[str, list[dict[str, Any]]] = {}
    for explainer, words_of in per.items():
        table: list[dict[str, Any]] = []
        for error, correct in ERRORS.items():
            wrong = [k for k in words_of if kind[k] == error]
            right = [k for k in words_of if kind[k] == correct]
            seen = sorted({w for k in wrong + right for w in words_of[k]})
            block = []
            for word in seen:
                k1 = sum(word in words_of[k] for k in wrong)
                k2 = sum(word in words_of[k] for k in right)
                block.append({"error": error, "versus": correct, "word": word, "errors": k1, "errors_n": len(wrong),
                              "correct": k2, "correct_n": len(right),
                              **proportion_difference(k1, len(wrong), k2, len(right))})
            for row, adjusted in zip(block, holm([r["p_value"] for r in block])):
                row["p_holm"] = adjusted
                row["finding"] = bool(adjusted is not None and adjusted < alpha and row["low"] is not None
                                      and (row["low"] > 0 or row["high"] < 0))
            table += block
        out[explainer] = sorted(table, key=lambda r: (r["p_holm"] if r["p_holm"] is not None else 2.0, r["word"]))
    return out


def findings(tables: Mapping[str, list[dict[str, Any]]]) -> list[tuple[float, str]]:
    """The words that differ with evidence: (adjusted p-value, sentence), strongest first."""
    rows = sorted((dict(r, explainer=e) for e, t in tables.items() for r in t if r["finding"]),
                  key=lambda r: r.get("p_holm_all", r["p_holm"]))
    out = []
    for r in rows:
        more = "more" if r["difference"] > 0 else "less"
        p = r.get("p_holm_all", r["p_holm"])
        out.append((p, f"Among the explained pairs, {r['explainer']} names \"{r['word']}\" {more} often in {r['error']}es "
                   f"({r['errors']} of {r['errors_n']}) than in {r['versus']}es ({r['correct']} of {r['correct_n']}): "
                   f"difference {r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}], "
                   f"Holm-adjusted p = {p:.2g}"))
    return out
