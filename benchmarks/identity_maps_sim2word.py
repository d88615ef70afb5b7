"""Does Sim2Word's counterfactual map mark where the target is unlike the other face?

Without an identity head, the official H_d = minmax(H_t (max H_f - H_f)) is built from two
Grad-CAMs, H_t (the target's own identity) and H_f (the other face's identity, on the target),
which are nearly the same map; H_d then behaves like H_t (1 - H_t), a function of H_t alone. The
contrastive map is the Grad-CAM of <f(T), e_T - e_F>: where T looks more like itself than like
F. Per non-mate direction, Spearman rank correlations over the pixels of:

* H_t and H_f;
* H_d and H_t (1 - H_t), and H_d and H_t, for the official and the contrastive H_d;
* the official and the contrastive H_d.

Means with 95% bootstrap intervals over pairs (a pair's two directions averaged).

    python benchmarks/identity_maps_sim2word.py PAIRS.csv --root DIR [--backbone dlib-resnet] [--out maps.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy.stats import spearmanr

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.sim2word.identity import counterfactual_map, identity_maps

PAIRS = {
    "H_t ~ H_f": ("own", "other"),
    "official H_d ~ H_t(1-H_t)": ("official", "parabola"),
    "contrastive H_d ~ H_t(1-H_t)": ("contrastive", "parabola"),
    "official H_d ~ H_t": ("official", "own"),
    "contrastive H_d ~ H_t": ("contrastive", "own"),
    "official H_d ~ contrastive H_d": ("official", "contrastive"),
}


def correlations(net, x: torch.Tensor) -> dict[str, float]:
    """The mean over the pair's two directions of each Spearman correlation of :data:`PAIRS`."""
    ids = identity_maps(net, x, contrastive=True)
    maps = {"own": ids.own, "other": ids.other, "official": counterfactual_map(ids.own, ids.other),
            "contrastive": ids.contrast, "parabola": ids.own * (1 - ids.own)}
    out = {}
    for name, (p, q) in PAIRS.items():
        values = [spearmanr(maps[p][i].flatten().numpy(), maps[q][i].flatten().numpy())[0] for i in range(2)]
        out[name] = float(np.nanmean(values))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("--root", default=None)
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    net = load_backbone(args.backbone, device="cpu")
    pairs = [p for p in read_pairs(args.pairs, args.root) if not p.same]
    faces = {path: load_face(path, net)[0] for path in sorted({p.a for p in pairs} | {p.b for p in pairs})}
    rows = [correlations(net, net.preprocess(np.stack([faces[p.a], faces[p.b]]))) for p in pairs]
    summary = {name: mean_ci([r[name] for r in rows], seed=0) for name in PAIRS}
    table = Table(title=f"Spearman over pixels, {len(pairs)} non-mate pairs ({net.name})")
    table.add_column("maps")
    table.add_column("mean [95% CI]")
    for name, ci in summary.items():
        table.add_row(name, f"{ci['mean']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]")
    Console().print(table)
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "pairs": rows}, indent=1))


if __name__ == "__main__":
    main()
