"""Whether two benchmark runs hold the same results, row for row, whatever their order.

Engines (serial, ``--workers``, ``--engine ray``) must give the same numbers; this is how the
tests and ``benchmarks/bench_benchmark.py`` check it. Timings (``seconds``) differ between any
two runs and are left out.

Example:
    >>> a = [{"key": "p", "explainer": "e", "similarity": 0.5, "seconds": 1.0, "metrics": {"m": [1.0, 2.0]}}]
    >>> b = [{"key": "p", "explainer": "e", "similarity": 0.5 + 1e-9, "seconds": 9.0, "metrics": {"m": [1.0, 2.0]}}]
    >>> row_differences(a, b)
    []
    >>> row_differences(a, [{**b[0], "metrics": {"m": [1.0, 2.5]}}])
    ['p / e: metrics.m.1: 2.0 against 2.5']
"""

from __future__ import annotations

import math
from typing import Any, Iterable

#: Keys whose values are timings, not results.
TIMINGS = frozenset({"seconds"})


def _leaves(value: Any, path: str = ""):
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            if key not in TIMINGS:
                yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}.{i}")
    else:
        yield path, value


def _differ(x: Any, y: Any, tolerance: float) -> bool:
    if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
        return x != y
    if math.isnan(x) or math.isnan(y):
        return not (math.isnan(x) and math.isnan(y))
    return abs(x - y) > tolerance


def row_differences(first: Iterable[dict], second: Iterable[dict], tolerance: float = 1e-6,
                    limit: int = 20) -> list[str]:
    """Up to ``limit`` differences between two runs' rows, matched by (pair key, explainer):
    rows only one run has, and values that differ by more than ``tolerance`` (or at all, for
    text); timings are ignored. An empty list: the same results."""
    maps = [{(r["key"], r["explainer"]): r for r in rows} for rows in (first, second)]
    out = [f"{k[0]} / {k[1]}: only in the {'first' if k in maps[0] else 'second'} run"
           for k in sorted(set(maps[0]) ^ set(maps[1]))]
    for key in sorted(set(maps[0]) & set(maps[1])):
        a, b = dict(_leaves(maps[0][key])), dict(_leaves(maps[1][key]))
        for path in sorted(set(a) | set(b)):
            if path not in a or path not in b or _differ(a[path], b[path], tolerance):
                out.append(f"{key[0]} / {key[1]}: {path}: {a.get(path)!r} against {b.get(path)!r}")
    return out[:limit]
