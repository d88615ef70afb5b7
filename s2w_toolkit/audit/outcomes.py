"""The threshold of an audit, each pair's outcome at it, and the pairs an audit explains.

Outcomes (accept is ``score >= threshold``): a mate accepted is a ``true match``, rejected a
``false non-match``; a non-mate accepted is a ``false match``, rejected a ``true non-match``.

Example:
    >>> rows = [{"key": k, "same": s, "similarity": v} for k, s, v in
    ...         [("m1", True, 0.9), ("m2", True, 0.4), ("n1", False, 0.7), ("n2", False, 0.1), ("n3", False, 0.45)]]
    >>> outcomes(rows, 0.5)
    {'m1': 'true match', 'm2': 'false non-match', 'n1': 'false match', 'n2': 'true non-match', 'n3': 'true non-match'}
    >>> chosen = select_pairs(rows, 0.5, near=1, contrast=1, seed=0)
    >>> chosen["n1"], chosen["m2"], chosen["n3"]
    (['false match'], ['false non-match'], ['near the threshold (rejected)', 'true non-match (sample)'])
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import S2WError

OUTCOMES = ("false match", "false non-match", "true match", "true non-match")
#: The outcomes of errors, and the correct outcome each is compared with (same pair type).
ERRORS = {"false match": "true non-match", "false non-match": "true match"}


def outcome(same: bool, score: float, threshold: float) -> str:
    """The outcome of one labelled pair at ``threshold``."""
    accepted = score >= threshold
    if same:
        return "true match" if accepted else "false non-match"
    return "false match" if accepted else "true non-match"


def scored(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The labelled rows with a score (error rows and unlabelled pairs left out)."""
    return [r for r in rows if "error" not in r and r.get("same") is not None and r.get("similarity") is not None]


def outcomes(rows: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, str]:
    """Pair key -> outcome, for the labelled, scored rows."""
    return {r["key"]: outcome(bool(r["same"]), float(r["similarity"]), threshold) for r in scored(rows)}


def choose_threshold(rows: Sequence[Mapping[str, Any]], backbone_threshold: float, source: str | None,
                     fmr: float | None = None) -> dict[str, Any]:
    """``{"threshold", "source"}``: the backbone's (or ``--threshold``'s, as ``source`` says),
    or with ``fmr`` the one calibrated on these pairs, which then says so (a one-line
    :class:`~s2w_toolkit.errors.S2WError` when no non-mate was scored)."""
    if fmr is None:
        return {"threshold": float(backbone_threshold), "source": source or "the backbone's default", "fmr": None}
    from ..bench.verification import threshold_for_fmr

    pairs = scored(rows)
    non_mates = sum(not r["same"] for r in pairs)
    if not non_mates:
        failed = sum("error" in r for r in rows)
        raise S2WError(f"--fmr {fmr:g}: no non-mate pair was scored ({len(pairs)} pairs scored, "
                       f"{failed} failed to load), so no threshold can be calibrated for a false match rate")
    threshold = threshold_for_fmr([r["similarity"] for r in pairs], [bool(r["same"]) for r in pairs], fmr)
    return {"threshold": float(threshold), "fmr": fmr,
            "source": f"calibrated on these {len(pairs)} pairs for FMR {fmr:g} ({non_mates} non-mates); the rates "
                      "below are measured on the same pairs, so they are optimistic"}


def select_pairs(rows: Sequence[Mapping[str, Any]], threshold: float, *, errors: int = 20, near: int = 3,
                 contrast: int = 10, seed: int = 0) -> dict[str, list[str]]:
    """Pair key -> why it is explained, in order: the ``errors`` worst false matches (highest
    scores) and false non-matches (lowest), the ``near`` pairs nearest the threshold on each
    side, and a seeded sample of ``contrast`` true matches and true non-matches."""
    pairs = scored(rows)
    kind = outcomes(pairs, threshold)
    chosen: dict[str, list[str]] = {}

    def add(keys: Sequence[str], reason: str) -> None:
        for key in keys:
            chosen.setdefault(key, []).append(reason)

    by_score = sorted(pairs, key=lambda r: (r["similarity"], r["key"]))
    add([r["key"] for r in reversed(by_score) if kind[r["key"]] == "false match"][:errors], "false match")
    add([r["key"] for r in by_score if kind[r["key"]] == "false non-match"][:errors], "false non-match")
    above = [r for r in by_score if r["similarity"] >= threshold and r["key"] not in chosen]
    below = [r for r in reversed(by_score) if r["similarity"] < threshold and r["key"] not in chosen]
    add([r["key"] for r in above[:near]], "near the threshold (accepted)")
    add([r["key"] for r in below[:near]], "near the threshold (rejected)")
    rng = random.Random(seed)
    for correct in ("true match", "true non-match"):
        pool = sorted(k for k, v in kind.items() if v == correct)
        add(sorted(rng.sample(pool, min(contrast, len(pool)))), f"{correct} (sample)")
    return chosen
