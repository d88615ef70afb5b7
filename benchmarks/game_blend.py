"""The swap game's blend, measured: which blend makes the network react to the planted identity
rather than to the blending.

Builds the same game (same people, probes, mates, donors and regions, seeded) with each blend
and reports per region and blend, with 95% bootstrap intervals over cases:

- ``drop``: how much a swap from another person lowers the probe-to-mate cosine;
- ``null drop``: the same for the null case, the region taken from another photo of the same
  person (or the mate itself), which no identity change explains: blending alone;
- ``signal``: drop minus the null drop of the same person and region (what the identity adds);
- ``kept``: the share of swap cases whose drop passes the game's margin.

A blend whose null cases move the cosine as much as its swaps plants seams, not identities.

    python benchmarks/game_blend.py IDENTITIES_DIR [--donors 2] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.game.build import DEFAULT_MARGIN, build_game
from s2w_toolkit.game.cases import people_from_folder
from s2w_toolkit.game.regions import REGIONS


def _rows(folder: Path) -> list[dict]:
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "error" not in row]


def _cell(values: list[float]) -> str:
    ci = mean_ci(values)
    return "-" if ci is None else f"{ci['mean']:.4f} [{ci['low']:.4f}, {ci['high']:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("identities")
    parser.add_argument("--donors", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="Keep the games in this folder.")
    args = parser.parse_args()
    net = load_backbone("dlib-resnet", device="cpu")
    people = people_from_folder(args.identities)
    root = Path(args.out or tempfile.mkdtemp(prefix="game-blend-"))
    table = Table(title=f"blends on {args.identities} (dlib-resnet, {args.donors} donors, seed {args.seed})")
    for column in ("region", "blend", "swaps", "drop", "null drop", "signal", "kept"):
        table.add_column(column, justify="left" if column in ("region", "blend") else "right")
    results = {}
    for blend in ("poisson", "feather"):
        build_game(people, net, root / blend, list(REGIONS), donors=args.donors, seed=args.seed, blend=blend,
                   overwrite=True)
        results[blend] = _rows(root / blend)
    for region in REGIONS:
        for blend, rows in results.items():
            rows = [r for r in rows if r["region"] == region]
            nulls = {r["person"]: r["drop"] for r in rows if r["kind"] == "null"}
            swaps = [r for r in rows if r["kind"] == "swap"]
            drops = [r["drop"] for r in swaps]
            signal = [r["drop"] - nulls[r["person"]] for r in swaps if r["person"] in nulls]
            kept = np.mean([d >= DEFAULT_MARGIN for d in drops]) if drops else float("nan")
            table.add_row(region, blend, str(len(swaps)), _cell(drops), _cell(list(nulls.values())), _cell(signal),
                          f"{kept:.0%}")
    Console().print(table)
    print(f"games in {root}")


if __name__ == "__main__":
    main()
