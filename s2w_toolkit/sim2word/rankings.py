"""Both rankings of a direction: the distinguishing words and the shared ones, each tested.

A word is *distinguishing* when erasing it makes the target more like the other face (the cosine
rises, sign +1) and *shared* when erasing it makes the target less like it (the cosine falls,
sign -1). Every pair gets both, each judged against its controls by
:func:`~s2w_toolkit.sim2word.support.judge_runs` (a family per ranking); the one that fits the
verdict leads (distinguishing for a non-mate, shared for a mate) and its annotations are also
written at the top level of each row, where the caption, the figure and the tables read them.
Each row gains ``rankings[name]`` (its p-values, statistic, ``supported``, ``agreement``) and
the direction's summary ``rankings[name]``. A value that only rises (the uncertainty) has one
ranking.

Example:
    >>> rows = [{"attribute": "Nose", "eligible": True, "s": 0.70, "control_s": [0.50, 0.51, 0.52]},
    ...         {"attribute": "Eyes", "eligible": True, "s": 0.30, "control_s": [0.50, 0.49, 0.51]}]
    >>> summary = judge_rankings(rows, sign=1, level=0.25)
    >>> summary["top"], summary["rankings"]["shared"]["top"]
    ('Nose', 'Eyes')
    >>> rows[0]["rankings"]["distinguishing"]["supported"], rows[1]["supported"]
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .support import LEVEL, judge_runs

#: Each ranking and the sign of the change of the cosine that supports its words.
RANKINGS = {"distinguishing": 1, "shared": -1}


def lead_ranking(sign: int) -> str:
    """The ranking whose sign is the direction's expected one.

    >>> lead_ranking(1), lead_ranking(-1)
    ('distinguishing', 'shared')
    """
    return "distinguishing" if sign > 0 else "shared"


def judge_rankings(rows: list[dict], sign: int, level: float = LEVEL, key: str = "s",
                   control_key: str = "control_s", selection_rule: str = "raw",
                   copies: Sequence[list[dict]] = (), placements: int | None = None,
                   covers: dict | None = None) -> dict[str, Any]:
    """Judge ``rows`` (and the same direction on perturbed ``copies``) for both rankings; the
    ranking of ``sign`` leads. Returns the lead ranking's summary with ``rankings`` added."""
    if key != "s":  # the uncertainty: one ranking
        judged, summary = judge_runs([rows, *copies], sign, level, key, control_key, selection_rule, placements, covers)
        for row, note in judged:
            row.update(note)
        return summary
    summaries = {}
    for name, side in RANKINGS.items():
        judged, summary = judge_runs([rows, *copies], side, level, key, control_key, selection_rule, placements, covers)
        for row, note in judged:
            row.setdefault("rankings", {})[name] = {k: note[k] for k in note if k not in (
                "control_mean", "control_std", "excess", "pooled_excess", "copies")}
            if side == sign:
                row.update(note)
        summaries[name] = summary
    return {**summaries[lead_ranking(sign)], "rankings": summaries}
