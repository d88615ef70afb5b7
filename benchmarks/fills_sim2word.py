"""Which fill should Sim2Word erase with? Leakage of each fill, and how much the words depend on it.

1. **Leakage.** Every face of the pairs is erased *entirely* (its template face box) with each
   fill and embedded. A fill that leaks no identity and pulls toward no generic face leaves a
   non-mate pair's similarity where it was; black is known to drag every face toward a point
   close to everyone. Per fill: the mean cosine of the erased face to the other face, its
   change from the original cosine (non-mates and mates separately, both orders of each pair),
   and how often the erased face is closer to a non-mate than the real face was.
2. **Dependence of the words on the fill.** Sim2Word (default settings, the fill varied) on the
   first ``--words N`` non-mate pairs: per direction, the top-ranked attribute (by excess,
   supported or not); the share of directions where two fills agree on it, and how often each
   fill names a supported word.

Means with 95% bootstrap intervals over pairs.

    python benchmarks/fills_sim2word.py PAIRS.csv --root DIR [--words 20] [--out fills.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.fills import FILL_IMAGES, FILLS, fill_images, imputed_inputs
from s2w_toolkit.sim2word.placements import face_region, region_pixels
from s2w_toolkit.testing import pair_from_faces


def erased_faces(net, faces: dict[str, np.ndarray], fill: str) -> dict[str, torch.Tensor]:
    """Each face with its whole template face box erased by ``fill``, preprocessed."""
    size = net.template.size
    x0, y0, x1, y1 = region_pixels(face_region(net.template, size), size)
    box = torch.zeros((1,) + tuple(size), dtype=torch.bool)
    box[0, y0:y1, x0:x1] = True
    out = {}
    for path, face in faces.items():
        x = net.preprocess(face)
        if fill in FILL_IMAGES:
            source = net.preprocess(fill_images(face[None], fill, seed=0))
        else:
            source = imputed_inputs(net, face, box, 0, x)
        out[path] = torch.where(box[:, None], source, x)
    return out


def leakage(net, pairs, faces) -> dict[str, dict]:
    with torch.no_grad():
        real = {p: F.normalize(net(net.preprocess(f)), dim=1)[0] for p, f in faces.items()}
        results = {}
        for fill in FILLS:
            gone = {p: F.normalize(net(x), dim=1)[0] for p, x in erased_faces(net, faces, fill).items()}
            per = {"non-mate": {"cosine": [], "change": [], "closer": []}, "mate": {"cosine": [], "change": []}}
            for pair in pairs:
                kind = "mate" if pair.same else "non-mate"
                before = float(real[pair.a] @ real[pair.b])
                after = [float(gone[pair.a] @ real[pair.b]), float(gone[pair.b] @ real[pair.a])]
                per[kind]["cosine"].append(float(np.mean(after)))
                per[kind]["change"].append(float(np.mean(after)) - before)
                if kind == "non-mate":
                    per[kind]["closer"].append(float(np.mean([a > before for a in after])))
            results[fill] = {kind: {k: mean_ci(v, seed=0) for k, v in d.items()} for kind, d in per.items()}
            results[fill]["values"] = per["non-mate"]["cosine"]
    for fill in FILLS:  # paired over pairs: this fill's non-mate cosine after, minus black's
        diff = np.subtract(results[fill].pop("values") if fill != "black" else results[fill]["values"],
                           results["black"]["values"])
        results[fill]["non-mate"]["versus_black"] = mean_ci(diff.tolist(), seed=0)
    results["black"].pop("values")
    return results


def word_dependence(net, pairs, faces, attributes, count: int) -> dict:
    non_mates = [p for p in pairs if not p.same][:count]
    top = {fill: [] for fill in FILLS}
    named = {fill: [] for fill in FILLS}
    for pair in non_mates:
        p = pair_from_faces(net, faces[pair.a], faces[pair.b])
        for fill in FILLS:
            result = run_sim2word(net, p, attributes, dataclasses.replace(Settings(), fill=fill))
            top[fill].append([(d.ranked()[0]["attribute"] if d.ranked() else None) for d in result.directions])
            named[fill].append(float(np.mean([bool(d.words()) for d in result.directions])))
    agreement = {}
    for f, g in itertools.combinations(FILLS, 2):
        per_pair = [float(np.mean([x == y for x, y in zip(a, b)])) for a, b in zip(top[f], top[g])]
        agreement[f"{f}~{g}"] = mean_ci(per_pair, seed=0)
    return {"pairs": len(non_mates), "agreement": agreement,
            "named": {fill: mean_ci(v, seed=0) for fill, v in named.items()}}


def _cell(ci: dict, percent: bool = False) -> str:
    if ci["mean"] is None:
        return "-"
    f = "{:.0%}" if percent else "{:+.3f}"
    return f"{f.format(ci['mean'])} [{f.format(ci['low'])}, {f.format(ci['high'])}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("--root", default=None)
    parser.add_argument("--words", type=int, default=20, help="non-mate pairs for the word dependence (0: none)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    net = load_backbone("dlib-resnet", device="cpu")
    pairs = read_pairs(args.pairs, args.root)
    faces = {path: load_face(path, net)[0] for path in sorted({p.a for p in pairs} | {p.b for p in pairs})}
    leaks = leakage(net, pairs, faces)
    console = Console()
    table = Table(title=f"Fully erased faces ({len(faces)} faces, {len(pairs)} pairs, {net.name})")
    for column in ("fill", "non-mate cosine after", "minus black's (paired)", "non-mate change",
                   "non-mates moved closer", "mate change"):
        table.add_column(column)
    for fill, d in leaks.items():
        table.add_row(fill, _cell(d["non-mate"]["cosine"]), _cell(d["non-mate"]["versus_black"]),
                      _cell(d["non-mate"]["change"]), _cell(d["non-mate"]["closer"], percent=True),
                      _cell(d["mate"]["change"]))
    console.print(table)
    out = {"leakage": leaks}
    if args.words:
        words = word_dependence(net, pairs, faces, load_attributes(), args.words)
        table = Table(title=f"Top-ranked word per direction, agreement between fills ({words['pairs']} non-mate pairs)")
        table.add_column("fills")
        table.add_column("same top word")
        for key, ci in words["agreement"].items():
            table.add_row(key, _cell(ci, percent=True))
        console.print(table)
        table = Table(title="Directions naming a supported word, per fill")
        table.add_column("fill")
        table.add_column("named")
        for fill, ci in words["named"].items():
            table.add_row(fill, _cell(ci, percent=True))
        console.print(table)
        out["words"] = words
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
