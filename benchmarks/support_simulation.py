"""Power and false naming of Sim2Word's support rules, on simulated directions of known effect.

Each simulated direction has 8 words whose masks cover 2% to 25% of the face (log-spaced). A
word's erased cosine and its K = 19 random placements are drawn, per copy (the photo and 4
perturbed copies, the default ``stability``), as

    value  v_rj  = mu_j + sd_j * (effect_j + sqrt(rho) * a_j  + sqrt(1 - rho) * e_rj)
    control c_rjk = mu_j + sd_j * (           sqrt(rho) * b_jk + sqrt(1 - rho) * e_rjk)

where mu_j = 0.3 + 0.2 * area_j (a larger mask placed anywhere raises a non-mate's cosine more),
sd_j = 0.1 * area_j ** 0.7 (and moves it more), a_j and b_jk are the location's part, shared by
the copies, and e the copy's own noise; rho is the share of the location. The rules:

* ``today``: the rule before issue 30: raw selection control, the word supported on the photo
  alone and again on at least 3 of the 4 copies, each copy with its own placements;
* ``pooled/<rule>`` (the default is ``pooled/scaled``): the word's value averaged over the photo
  and its copies, against the photo's placements
  (:func:`~s2w_toolkit.sim2word.support.judge_runs`), for each selection rule;
* ``matched/scaled``: the copies draw the photo's placements too and each placement's value is
  averaged like the word's (like for like, at 5 times the erased images);
* ``stratified/raw``: each copy draws its own placements and the k-th of each copy are averaged
  as if they were one unit. It is shown because it is the obvious way to pool, and it is wrong:
  the copies' real values share their location, the independent placements do not, so the
  average of the controls is too narrow and words are named too often.

Per cell: the rate at which some word is named with no effect anywhere (false naming), and the
rate at which the effect word is the top named one (found) at several effect sizes, for the
smallest and the largest word; 95% Wilson intervals over ``--n`` directions.

    python benchmarks/support_simulation.py [--n 1000] [--rho 0.5 0.9] [--markdown]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit.sim2word.support import judge_runs

J, K, COPIES, LEVEL = 8, 19, 4, 0.1
AREAS = np.geomspace(0.02, 0.25, J)
RULES = ("today", "pooled/raw", "pooled/max-t", "pooled/scaled", "matched/scaled", "stratified/raw")


def draw(rng: np.random.Generator, effect: float, word: int, rho: float, matched: bool):
    """values (R, J) and controls (R, J, K) of one direction."""
    mu, sd = 0.3 + 0.2 * AREAS, 0.1 * AREAS ** 0.7
    runs = COPIES + 1
    location = rng.standard_normal((J, K)) if matched else rng.standard_normal((runs, J, K))
    own = rng.standard_normal(J)
    shift = np.zeros(J)
    shift[word] = effect
    values = mu + sd * (shift + np.sqrt(rho) * own + np.sqrt(1 - rho) * rng.standard_normal((runs, J)))
    controls = mu[:, None] + sd[:, None] * (np.sqrt(rho) * location + np.sqrt(1 - rho) * rng.standard_normal((runs, J, K)))
    return values, controls


def rows_of(values: np.ndarray, controls: np.ndarray) -> list[list[dict]]:
    return [[{"attribute": f"w{j}", "word": f"w{j}", "eligible": True, "s": float(values[r, j]),
              "erased_fraction": float(AREAS[j]), "control_s": controls[r, j].tolist()} for j in range(J)]
            for r in range(len(values))]


def named(rule: str, rng: np.random.Generator, effect: float, word: int, rho: float) -> str | None:
    """The attribute the rule names (None: none)."""
    kind, _, selection = rule.partition("/")
    values, controls = draw(rng, effect, word, rho, matched=kind in ("pooled", "matched"))
    if kind == "today":
        judged = [judge_runs([rows], 1, LEVEL, selection_rule="raw") for rows in rows_of(values, controls)]
        supported = [set(summary["supported"]) for _, summary in judged]
        stable = [a for a in judged[0][1]["supported"]
                  if sum(a in s for s in supported[1:]) >= 0.75 * COPIES]
        return stable[0] if stable else None
    if kind == "pooled":  # the copies' values, the photo's placements
        runs = rows_of(values, controls)
        for rows in runs[1:]:
            for row in rows:
                row["control_s"] = []
        return judge_runs(runs, 1, LEVEL, selection_rule=selection)[1]["top"]
    # matched / stratified: every copy's placements, averaged placement by placement
    return judge_runs(rows_of(values.mean(axis=0, keepdims=True), controls.mean(axis=0, keepdims=True)), 1, LEVEL,
                      selection_rule=selection)[1]["top"]


def rate(hits: int, n: int) -> str:
    """``hits / n`` with its 95% Wilson interval."""
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.0%} [{max(0, centre - half):.0%}, {min(1, centre + half):.0%}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rho", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--effects", type=float, nargs="+", default=[2.0, 3.0, 4.0])
    parser.add_argument("--markdown", action="store_true", help="print markdown tables for docs/sim2word.md")
    args = parser.parse_args()
    console = Console(width=200)
    columns = ["false naming (no effect)"] + [f"found: smallest word, effect {e:g}" for e in args.effects] + \
              [f"found: largest word, effect {e:g}" for e in args.effects]
    for rho in args.rho:
        table = Table(title=f"rho = {rho:g}: {args.n} directions per cell, {J} words, K = {K}, {COPIES} copies, "
                            f"level {LEVEL:g}")
        table.add_column("rule")
        for column in columns:
            table.add_column(column)
        lines = []
        for rule in RULES:
            rng = np.random.default_rng(0)
            cells = [rate(sum(named(rule, rng, 0.0, 0, rho) is not None for _ in range(args.n)), args.n)]
            for word in (0, J - 1):
                for effect in args.effects:
                    hits = sum(named(rule, rng, effect, word, rho) == f"w{word}" for _ in range(args.n))
                    cells.append(rate(hits, args.n))
            table.add_row(rule, *cells)
            lines.append(f"| `{rule}` | " + " | ".join(cells) + " |")
        console.print(table)
        if args.markdown:
            print(f"\nrho = {rho:g}\n\n| rule | " + " | ".join(columns) + " |")
            print("| --- |" + " ---: |" * len(columns))
            print("\n".join(lines))


if __name__ == "__main__":
    main()
