"""Reading benchmark results back: one row per (pair, explainer), and the summary per explainer.

:func:`resolve` keeps one row per (pair key, explainer) whatever the order of the files: a
result beats an error row (a pair retried after its image was added), and of two results the
same one is kept whichever file comes first. :func:`check_same_settings` refuses rows made with
different settings. :func:`summarise` gives per explainer the mean AUCs, controls, cost, FMR/FNMR
after pixel replacement, Sim2Word's AUC drop, and how many rows failed.

Example:
    >>> rows = [{"key": "p", "explainer": "x", "error": "missing image", "settings": {"steps": 4}},
    ...         {"key": "p", "explainer": "x", "similarity": 0.5, "settings": {"steps": 4}}]
    >>> [resolve([rows])[0].get("similarity"), resolve([rows[::-1]])[0].get("similarity")]
    [0.5, 0.5]
    >>> check_same_settings([{"key": "q", "explainer": "x", "settings": {"steps": 8}}] + rows)
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: rows made with different settings: steps=4 (pair p, x) against steps=8 (pair q, x)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..errors import S2WError
from . import metrics
from .store import RESULTS, differing_setting, read_rows


def _canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def resolve(files: Iterable[list[dict]]) -> list[dict]:
    """One row per (key, explainer) from the rows of several files, sorted by explainer and key."""
    best: dict[tuple[str, str], dict] = {}
    for rows in files:
        for row in rows:
            slot = (row["key"], row["explainer"])
            old = best.get(slot)
            if old is None or ("error" in old) > ("error" in row):
                best[slot] = row
            elif ("error" in old) == ("error" in row) and _canonical(row) < _canonical(old):
                best[slot] = row  # the same choice whichever file comes first
    return [best[slot] for slot in sorted(best, key=lambda s: (s[1], s[0]))]


def run_and_options(settings: dict[str, Any], explainer: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """One flat dict of a run's settings and an explainer's options (``"<explainer> option <key>"``)."""
    return {**settings, **{f"{explainer} option {k}": v for k, v in (options or {}).items()}}


def row_settings(row: dict) -> dict[str, Any]:
    """What a row was computed with: the run's settings plus its explainer's options."""
    return run_and_options(row.get("settings", {}), row["explainer"], row.get("options"))


def check_same_settings(rows: list[dict], what: str = "rows made with different settings") -> None:
    """Raise a one-line :class:`S2WError` naming the first setting in which two rows differ."""
    reference: dict[str, dict] = {}
    for row in rows:
        if "settings" not in row:
            raise S2WError(f"{what}: the row of pair {row['key']} ({row['explainer']}) records no settings "
                           "(written by an older s2w); rerun it")
        for scope in ("run", row["explainer"]):
            mine = row_settings(row) if scope != "run" else row["settings"]
            first = reference.setdefault(scope, {"row": row, "settings": mine})
            key = differing_setting(first["settings"], mine)
            if key is not None:
                other = first["row"]
                raise S2WError(f"{what}: {key}={mine.get(key)!r} (pair {row['key']}, {row['explainer']}) against "
                               f"{key}={first['settings'].get(key)!r} (pair {other['key']}, {other['explainer']})")


def read_results(paths: list[str | Path]) -> list[dict]:
    """The resolved rows of one or more ``results.jsonl`` files, checked for equal settings."""
    files = [read_rows(p) for p in paths]
    check_same_settings([row for rows in files for row in rows])  # every row, also those resolve drops
    return resolve(files)


def _replacement(group: list[dict]) -> dict:
    """FMR and FNMR at the backbone's threshold after pixel replacement, per strategy and p."""
    out: dict[str, dict] = {}
    threshold = group[0]["threshold"]
    for strategy in ("best", "worst", "random"):
        per_p: dict[str, list] = {}
        for row in group:
            for side in row["sides"].values():
                for p, score in side["replacement"].get(strategy, {}).items():
                    per_p.setdefault(str(p), []).append((score, row["same"]))
        out[strategy] = {p: dict(zip(("fmr", "fnmr"), metrics.fmr_fnmr([s for s, _ in v], [m for _, m in v], threshold)))
                         for p, v in per_p.items()}
    return out


def _mean_curve(curves: list[list[float]]) -> list[float]:
    length = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(length)]


def _explainer_summary(name: str, group: list[dict], failed: int) -> dict:
    if not group:
        return {"pairs": 0, "failed": failed}
    curves = [side["deletion"] for row in group for side in row["sides"].values()]

    def mean(key: str) -> float:
        return sum(c[key] for c in curves) / len(curves)

    summary = {
        "pairs": len(group), "failed": failed,
        "deletion_auc": mean("deletion_auc"), "insertion_auc": mean("insertion_auc"),
        "random_deletion_auc": mean("random_deletion_auc"), "random_insertion_auc": mean("random_insertion_auc"),
        "seconds_per_pair": sum(r["seconds"] for r in group) / len(group),
        "forward_passes": sum(r["forward_passes"] for r in group) / len(group),
        "deletion_curve": _mean_curve([c["deletion_curve"] for c in curves]),
        "insertion_curve": _mean_curve([c["insertion_curve"] for c in curves]),
        "replacement": _replacement(group),
    }
    if name == "sim2word":
        records = [{"same": r["same"], "similarity": r["similarity"], **r["sim2word"]} for r in group]
        summary["auc_drop"] = metrics.auc_drop(records)
    return summary


def summarise(out_dir: str | Path, extra: list[str | Path] | None = None) -> dict[str, dict]:
    """Per explainer, from ``out_dir/results.jsonl`` plus any ``extra`` files (see the module
    docstring); an explainer whose every row failed has only ``pairs`` (0) and ``failed``."""
    rows = read_results([Path(out_dir) / RESULTS, *(extra or [])])
    names = list(dict.fromkeys(row["explainer"] for row in rows))
    return {name: _explainer_summary(name, [r for r in rows if r["explainer"] == name and "error" not in r],
                                     sum(1 for r in rows if r["explainer"] == name and "error" in r))
            for name in names}

