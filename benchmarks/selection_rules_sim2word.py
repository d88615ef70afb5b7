"""The selection-matched controls of Sim2Word side by side on the same erasures: ``raw`` (the
best raw value over every word's k-th placement), ``max-t`` (each word standardised by its own
controls, Westfall-Young max-T) and ``scaled`` (max-T, each word's spread fitted from its mask
size across the words), on the labelled pairs of a pairs CSV.

Each pair is explained once with the default settings but no stability re-runs
(``stability=0``: the rules judge the same values, so one run serves both) and the rows of each
direction are judged by both rules. Per direction and rule: whether a word is supported (both
p-values at most the level) and, for the top supported word, whether it beats more than half of
an *independent* selection-matched control (a second run with another seed, so that choosing the
word and testing it share no draw), judged by the same rule. Also how often the word with the
smallest own p-value has ``p_value`` at its floor (1/20) while its ``p_selection`` is above the
level: the small-word-in-the-right-place failure. Means per pair type (non-mates: erasing should
raise the cosine; mates: lower it) with 95% bootstrap intervals over pairs.

    python benchmarks/selection_rules_sim2word.py PAIRS.csv [--root DIR] [--limit N] [--backbone NAME]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.sim2word.support import SELECTION_RULES, judge_direction


def judged(direction, settings: Settings, rule: str) -> tuple[list[dict], dict]:
    rows = copy.deepcopy(direction.rows)
    return rows, judge_direction(rows, direction.sign, settings.support_level, "s", "control_s", rule)


def record(result, fresh, settings: Settings) -> list[dict]:
    """Per direction and rule: named, beats (independent control), the small-word failure."""
    out = []
    for d, f in zip(result.directions, fresh.directions):
        entry = {}
        for rule in SELECTION_RULES:
            rows, summary = judged(d, settings, rule)
            fresh_rows, fresh_summary = judged(f, settings, rule)
            top = summary["top"]
            entry[f"{rule}/named"] = top is not None
            if top is not None:
                statistic = next(r["statistic"] for r in fresh_rows if r["attribute"] == top)
                win = float(np.mean(statistic > np.asarray(fresh_summary["selection_statistic"])))
                entry[f"{rule}/beats"] = win > 0.5
            best = min((r for r in rows if "p_value" in r), key=lambda r: r["p_value"], default=None)
            floor = 1.0 / (settings.placements + 1)
            entry[f"{rule}/blocked"] = bool(best and best["p_value"] <= floor + 1e-9
                                            and best["p_selection"] > settings.support_level)
        out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("--root", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--backbone", default="dlib-resnet")
    args = parser.parse_args()
    net = load_backbone(args.backbone, device="cpu")
    attributes = load_attributes()
    settings = Settings(stability=0, sequential=False)  # every placement drawn, for every rule
    check = dataclasses.replace(settings, seed=settings.seed + 1)
    pairs = read_pairs(args.pairs, args.root)[: args.limit]
    started = time.perf_counter()
    by_type: dict[str, list[list[dict]]] = {"non-mates": [], "mates": []}
    for pair in pairs:
        p = load_pair(pair.a, pair.b, net)
        result = run_sim2word(net, p, attributes, settings)
        fresh = run_sim2word(net, p, attributes, check)
        by_type["mates" if pair.same else "non-mates"].append(record(result, fresh, settings))
    console = Console(width=160)
    console.print(f"{len(pairs)} pairs, {args.backbone}, attributes {attributes.name}, {settings.placements} "
                  f"placements, level {settings.support_level}, stability 0; {time.perf_counter() - started:.0f} s")
    for kind, records in by_type.items():
        if not records:
            continue
        table = Table(title=f"{kind}: {len(records)} pairs, {2 * len(records)} directions (means over pairs, 95% CI)")
        for column in ("rule", "a word is named", "the named word beats an independent control",
                       "best own p at its floor, blocked by the selection control"):
            table.add_column(column)
        for rule in SELECTION_RULES:
            def per_pair(key: str, among_named: bool) -> str:
                values = []
                for directions in records:
                    ds = [d for d in directions if d[f"{rule}/named"]] if among_named else directions
                    if ds:
                        values.append(float(np.mean([bool(d.get(f"{rule}/{key}")) for d in ds])))
                if not values:
                    return "-"
                ci = mean_ci(values, seed=0)
                return f"{ci['mean']:.0%} [{ci['low']:.0%}, {ci['high']:.0%}] (n={len(values)})"
            table.add_row(rule, per_pair("named", False), per_pair("beats", True), per_pair("blocked", False))
        console.print(table)


if __name__ == "__main__":
    main()
