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
#: Fewest pairs (of one pair type) for which the benchmark shows an interval or claims that an
#: explainer beats the controls. Below 6, even pairs whose differences all have one sign are not
#: evidence: the exact two-sided sign test gives p = 2 * 0.5**n, 0.0625 at n = 5, and first falls
#: below 0.05 at n = 6; yet a percentile bootstrap of such pairs excludes 0 (of one pair it is
#: that pair's value: a zero-width "interval").
MIN_PAIRS_FOR_CLAIM = 6


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


def too_few(n: int, minimum: int = MIN_PAIRS_FOR_CLAIM) -> str | None:
    """Why ``n`` pairs are too few for an interval or a claim; None when they are enough.

    >>> too_few(1), too_few(6)
    ('1 pair, fewer than the 6 that an interval or a claim needs', None)
    """
    if n >= minimum:
        return None
    return f"{n} pair{'' if n == 1 else 's'}, fewer than the {minimum} that an interval or a claim needs"


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
    return (max(0.0, centre - half), min(1.0, centre + half))  # no -1e-17 at k = 0


def proportion_difference(k1: int, n1: int, k2: int, n2: int) -> dict[str, float | None]:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score interval (from the two 95% Wilson
    intervals) and the two-sided p-value of Fisher's exact test of the 2x2 table.

    Example:
        >>> d = proportion_difference(9, 10, 1, 10)
        >>> round(d["difference"], 2), round(d["low"], 3) > 0, round(d["p_value"], 4)
        (0.8, True, 0.0011)
        >>> proportion_difference(1, 2, 1, 2)["p_value"]
        1.0
    """
    import math

    if not n1 or not n2:
        return {"difference": None, "low": None, "high": None, "p_value": None}
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    from scipy.stats import fisher_exact

    p_value = float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    return {"difference": d, "low": low, "high": high, "p_value": min(1.0, p_value)}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None), for claims made over many tests.

    >>> holm([0.01, 0.04, None, 0.03])
    [0.03, 0.06, None, 0.06]
    """
    ranked = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - rank) * p))
        out[i] = round(running, 12)
    return out
