"""Reading benchmark results back: one row per (pair, explainer), and the summary per explainer.

:func:`resolve` keeps one row per (pair key, explainer) whatever the order of the files: a
result beats an error row (a pair retried after its image was added), and of two results the
same one is kept whichever file comes first (a whole result also beats one with a failed metric). :func:`check_same_settings` refuses rows made with
different settings. :func:`summarise` gives, per explainer, pair type and side, every metric's
numbers with bootstrap intervals and the comparison with the controls
(:mod:`~s2w_toolkit.bench.aggregate`), each metric's pooled results, how many rows failed, and
the run-wide results (the backbone's verification quality).

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
import warnings
from pathlib import Path
from typing import Any, Iterable

from ..errors import S2WError
from .store import RESULTS, differing_setting, read_rows


def _canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def _damage(row: dict) -> int:
    """2 for an error row, 1 for a result with a failed metric, 0 for a whole result."""
    return 2 if "error" in row else int("metric_errors" in row)


def resolve(files: Iterable[list[dict]]) -> list[dict]:
    """One row per (key, explainer) from the rows of several files, sorted by explainer and key."""
    best: dict[tuple[str, str], dict] = {}
    for rows in files:
        for row in rows:
            slot = (row["key"], row["explainer"])
            old = best.get(slot)
            if old is None or _damage(old) > _damage(row):
                best[slot] = row
            elif _damage(old) == _damage(row) and _canonical(row) < _canonical(old):
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


def metrics_of(rows: list[dict]) -> list:
    """The metric objects the rows were measured with, rebuilt from their recorded settings; a
    metric no longer installed is warned about and left out of the summary."""
    from ..registry import PluginWarning, get_registry

    settings = next((r["settings"] for r in rows if "settings" in r), {})
    out = []
    for name in settings.get("metrics", []):
        try:
            cls = get_registry().metric(name)
        except S2WError as exc:
            warnings.warn(f"{exc}; the summary leaves it out", PluginWarning, stacklevel=2)
            continue
        prefix = f"{name} "
        out.append(cls(**{k[len(prefix):]: v for k, v in settings.items() if k.startswith(prefix)}))
    return out


def summarise(out_dir: str | Path, extra: list[str | Path] | None = None) -> dict[str, Any]:
    """The summary of ``out_dir/results.jsonl`` plus any ``extra`` files: ``settings``, each
    metric's description (``metrics``), per explainer the cells of
    :func:`~s2w_toolkit.bench.aggregate.aggregate` (``explainers``), and the run-wide results
    such as the backbone's verification quality (``run``)."""
    from .aggregate import aggregate

    rows = read_results([Path(out_dir) / RESULTS, *(extra or [])])
    measures = metrics_of(rows)
    settings = next((r["settings"] for r in rows), {})
    pooled = {m.name: m.summarise_run(rows) for m in measures}
    return {"settings": settings, "metrics": {m.name: m.describe() for m in measures},
            "explainers": aggregate(rows, measures, seed=settings.get("seed", 0)),
            "run": {name: value for name, value in pooled.items() if value is not None}}
