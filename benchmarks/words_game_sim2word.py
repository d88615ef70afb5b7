"""Sim2Word's words on a swap game, one configuration at a time: how often a word is named,
how often the top word is the planted region's, and how often the word with the largest
statistic speaks about it whether supported or not (issue 30).

The last column tells the ranking from the test: a configuration whose top statistic is right
in 95% of swaps but names a word in 30% has a test without power, not a ranking that misses.
On each case of the chosen form and kind, Sim2Word (the defaults plus ``-o`` options) explains
(other face, swapped face); the swapped face's direction is read:

* ``named``: a distinguishing word is supported;
* ``found``: the top supported word (by excess) speaks about the swapped region (its
  attribute's declared regions hold it);
* ``top statistic right``: the word with the largest selection statistic, supported or not,
  speaks about it;
* ``cover``: the mean share of the planted region that the region's own word erases.

Rates with 95% Wilson intervals over cases.

    python benchmarks/words_game_sim2word.py GAME [--form self] [--kind swap] [-o erase=target ...]
        [--backbone dlib-resnet] [--count N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.stats import wilson
from s2w_toolkit.game.score import _face, _tasks, game_pair, read_game
from s2w_toolkit.sim2word.core import run_sim2word
from s2w_toolkit.sim2word.explainer import settings_from_options


def case_words(net, attributes, regions: dict, settings, game, case: dict, form: str) -> dict:
    """Named, found, top statistic right and cover of one case."""
    from skimage.transform import resize

    other = _face(game, case["mate"] if form == "self" else case["probe"])
    planted = _face(game, case["mask"])[..., 0] > 127
    direction = run_sim2word(net, game_pair(net, other, _face(game, case["swapped"])), attributes,
                             settings).directions[1]
    speaks = [case["region"] in regions.get(r["attribute"], ()) for r in direction.rows]
    judged = [j for j, r in enumerate(direction.rows) if r.get("rankings", {}).get("distinguishing", {})
              .get("statistic") is not None]
    supported = [j for j in judged if direction.rows[j]["rankings"]["distinguishing"]["supported"]]
    top = max(supported, key=lambda j: direction.rows[j]["excess"]) if supported else None
    best = max(judged, key=lambda j: direction.rows[j]["rankings"]["distinguishing"]["statistic"]) if judged else None
    covers = []
    for j, row in enumerate(direction.rows):
        if row["eligible"] and [case["region"]] == list(regions.get(row["attribute"], ())):
            mask = direction.masks[j].numpy()
            mask = resize(mask.astype(float), planted.shape, order=0) > 0.5 if mask.shape != planted.shape else mask
            covers.append(float((mask & planted).sum() / max(planted.sum(), 1)))
    return {"named": top is not None, "found": top is not None and speaks[top],
            "top_right": best is not None and speaks[best], "cover": float(np.mean(covers)) if covers else np.nan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("game")
    parser.add_argument("--form", default="self", choices=("self", "probe"))
    parser.add_argument("--kind", default="swap", choices=("swap", "null"))
    parser.add_argument("-o", "--option", action="append", default=[], help="a Sim2Word option, KEY=VALUE")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--count", type=int, default=None, help="at most this many cases")
    args = parser.parse_args()
    settings = settings_from_options(dict(kv.split("=", 1) for kv in args.option))
    net = load_backbone(args.backbone, device="cpu")
    attributes = load_attributes(device="cpu")
    regions = attributes.word_regions()
    _, cases = read_game(args.game)
    tasks = [c for c, f in _tasks(cases, (args.form,)) if c["kind"] == args.kind][:args.count]
    start = time.perf_counter()
    rows = [case_words(net, attributes, regions, settings, args.game, case, args.form) for case in tasks]
    n = len(rows)
    table = Table(title=f"Sim2Word's words on {args.game} ({args.form} {args.kind}, {net.name}, "
                        f"{' '.join(args.option) or 'defaults'}; {time.perf_counter() - start:.0f} s)")
    for column in ("cases", "named", "found", "top statistic right", "cover"):
        table.add_column(column, justify="right")

    def rate(key: str) -> str:
        k = sum(r[key] for r in rows)
        low, high = wilson(k, n)
        return f"{k / n:.0%} [{low:.0%}, {high:.0%}]"

    cover = np.nanmean([r["cover"] for r in rows]) if n else np.nan
    table.add_row(str(n), rate("named"), rate("found"), rate("top_right"), f"{cover:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
