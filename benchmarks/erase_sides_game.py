"""Erasing the planted region on the target only, or on both faces: which one tells a planted
difference from the rest of the face? (issue 30)

On each case of a swap game (``s2w game build``), the pair (other face, swapped face T) is erased
with the blur fill where the swap changed T (the game's mask), and at 19 random placements of
that mask in the face box (the same mask translated): on T alone (Sim2Word's ``erase=target``,
s = cos(f(T erased), f(F))), or on both faces (``erase=both``, s = cos(f(T erased), f(F
erased))). Per form and kind: the mean change of the cosine by the planted mask, how often it
raises the cosine, and the mean share of placements that change it at least as much (the
permutation p-value's numerator share: small is what a test at level 0.1 can detect).

    python benchmarks/erase_sides_game.py GAME [--backbone dlib-resnet]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.fills import fill_images
from s2w_toolkit.game.score import _face, _tasks, read_game
from s2w_toolkit.sim2word.placements import face_region, random_placements

PLACEMENTS = 19


def changes(net, other: np.ndarray, swapped: np.ndarray, mask: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The cosine's change by the mask then by each placement, erased on T alone and on both."""
    size = swapped.shape[:2]
    masks = torch.from_numpy(mask)
    placed = random_placements(masks, face_region(net.template, size), PLACEMENTS, np.random.default_rng(seed))
    every = torch.cat([masks[None], placed]).numpy()[..., None]
    fill_t, fill_o = (fill_images(face[None], "blur", seed)[0] for face in (swapped, other))
    erased_t, erased_o = np.where(every, fill_t, swapped), np.where(every, fill_o, other)
    with torch.no_grad():
        e = torch.nn.functional.normalize(net(net.preprocess(np.concatenate([swapped[None], other[None], erased_t,
                                                                              erased_o]))), dim=1)
    n, base = len(every), float(e[0] @ e[1])
    return {"target": (e[2:2 + n] @ e[1]).numpy() - base,
            "both": (e[2:2 + n] * e[2 + n:]).sum(dim=1).numpy() - base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("game")
    parser.add_argument("--backbone", default="dlib-resnet")
    args = parser.parse_args()
    net = load_backbone(args.backbone, device="cpu")
    game = Path(args.game)
    _, cases = read_game(game)
    rows: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    for case, form in _tasks(cases, ("self", "probe")):
        other = _face(game, case["mate"] if form == "self" else case["probe"])
        found = changes(net, other, _face(game, case["swapped"]), _face(game, case["mask"])[..., 0] > 127)
        for side, delta in found.items():
            rows.setdefault((form, case["kind"], side), []).append(
                (delta[0], float(delta[0] > 0), float((delta[1:] >= delta[0]).mean())))
    table = Table(title=f"the planted region erased on the target or on both faces ({net.name}, blur fill)")
    for column in ("form", "kind", "erased on", "cases", "change of the cosine", "raises it",
                   "share of placements at least as high"):
        table.add_column(column)
    for (form, kind, side), values in sorted(rows.items()):
        v = np.array(values)
        cells = [mean_ci(list(v[:, c])) for c in range(3)]
        shown = [f"{c['mean']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]" if i == 0 else
                 f"{c['mean']:.2f} [{c['low']:.2f}, {c['high']:.2f}]" for i, c in enumerate(cells)]
        table.add_row(form, kind, side, str(len(v)), *shown)
    Console().print(table)


if __name__ == "__main__":
    main()
