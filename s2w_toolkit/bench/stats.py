"""Means with bootstrap confidence intervals, resampling pairs (never the two sides of one pair).

Every interval is a seeded percentile bootstrap: ``resamples`` draws of the pairs with
replacement, the mean of each draw, and the ``(1 - level) / 2`` and ``(1 + level) / 2``
quantiles of those means. A paired difference resamples the pairs that both methods measured,
so the two methods' values of one pair stay together.

Example:
    >>> mean_ci([1.0, 2.0, 3.0, 4.0], seed=0)["mean"]
    2.5
    >>> ci = mean_ci([1.0, 2.0, 3.0, 4.0], seed=0)
    >>> 1.0 <= ci["low"] <= 2.5 <= ci["high"] <= 4.0
    True
    >>> d = paired_difference({"p": 0.5, "q": 0.7}, {"p": 0.4, "q": 0.5, "r": 0.9}, seed=0)
    >>> round(d["mean"], 6), d["n"]
    (0.15, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


def mean_ci(values: Sequence[float], seed: int = 0, resamples: int = RESAMPLES,
            level: float = LEVEL) -> dict[str, float | int | None]:
    """``{"mean", "low", "high", "n"}`` of ``values`` (one per pair); None for an empty list,
    and the interval of one value is that value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not len(v):
        return {"mean": None, "low": None, "high": None, "n": 0}
    if len(v) == 1:
        return {"mean": float(v[0]), "low": float(v[0]), "high": float(v[0]), "n": 1}
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (resamples, len(v)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(v.mean()), "low": float(low), "high": float(high), "n": int(len(v))}


def paired_difference(x: Mapping[str, float], y: Mapping[str, float], seed: int = 0,
                      resamples: int = RESAMPLES, level: float = LEVEL) -> dict[str, float | int | None]:
    """Mean and interval of ``x[k] - y[k]`` over the keys (pairs) both hold."""
    keys = sorted(set(x) & set(y))
    return mean_ci([x[k] - y[k] for k in keys], seed, resamples, level)


def excludes_zero(ci: Mapping[str, float | None], direction: str) -> bool | None:
    """Whether the interval lies wholly on the good side of zero (``direction`` ``"higher"``:
    above it; ``"lower"``: below it); None without an interval or a direction.

    >>> excludes_zero({"low": 0.01, "high": 0.2}, "higher"), excludes_zero({"low": -0.1, "high": 0.2}, "higher")
    (True, False)
    """
    if ci.get("low") is None or direction not in ("higher", "lower"):
        return None
    return bool(ci["low"] > 0) if direction == "higher" else bool(ci["high"] < 0)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of ``k`` successes in ``n`` trials (NaNs when n is 0).

    Example:
        >>> [round(v, 3) for v in wilson(9, 10)]
        [0.596, 0.982]
    """
    import math

    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)
