"""Which estimate of Sim2Word's counterfactual map H_d finds a planted region, and which one
erasing agrees with? (issue 30, point 5)

Two measurements, every estimate of :mod:`s2w_toolkit.sim2word.counterfactual` side by side with
the ``random`` (a 4x4 grid of uniform noise) and ``centre`` (a Gaussian blob) controls:

* **the swap game** (``--game``, built by ``s2w game build``): on each case, H_d of the swapped
  face against the other face (its mate: ``self``; the probe photo: ``probe``, kept cases), scored
  against the planted region: mass ratio, pointing, hit AUC, each paired against both controls
  (:mod:`s2w_toolkit.game.summary`: "beats" = both paired differences' 95% intervals above zero);
* **deletion** (``--pairs``, non-mate pairs): the cosine of T to F as T's pixels are erased
  (blur fill) in H_d's order, most counterfactual first: a map of where T is unlike F raises it
  fastest, so a *higher* deletion AUC is better; the insertion curve (only the top pixels kept)
  should stay *lower*. Means over directions with 95% bootstrap intervals over pairs.

    python benchmarks/counterfactual_maps_sim2word.py --game fd-game [--pairs PAIRS.csv --root DIR]
        [--backbone dlib-resnet] [--count N] [--out maps.json] [--markdown]
    python benchmarks/counterfactual_maps_sim2word.py --from game.json deletion.json   # markdown only
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.bench.metrics import deletion_insertion
from s2w_toolkit.bench.stats import mean_ci, paired_difference
from s2w_toolkit.explainers.controls import centre_blob
from s2w_toolkit.fills import fill_inputs
from s2w_toolkit.game.scores import map_scores
from s2w_toolkit.game.summary import summarise
from s2w_toolkit.sim2word.counterfactual import COUNTERFACTUALS, contrast_maps
from s2w_toolkit.sim2word.identity import counterfactual_map, identity_cams

CONTROLS = ("random", "centre")


def random_map(face: np.ndarray, seed: int = 1, grid: int = 4) -> np.ndarray:
    """The ``random`` control's map of ``face`` (what ``s2w game score`` draws)."""
    import zlib

    import torch.nn.functional as F

    rng = np.random.default_rng([seed, zlib.crc32(np.ascontiguousarray(face).tobytes()), ord("b")])
    cells = torch.from_numpy(rng.random((1, 1, grid, grid)))
    return F.interpolate(cells, size=face.shape[:2], mode="bilinear", align_corners=False)[0, 0].numpy()


def maps_of(net, faces: np.ndarray, methods: list[str], fill: str = "blur") -> tuple[dict[str, np.ndarray], dict]:
    """Each method's H_d of faces[1] against faces[0] (and the controls), with each one's seconds."""
    x = net.preprocess(faces).to(net.device)
    with torch.no_grad():
        every = net(x)
    baseline = fill_inputs(net, faces, fill, 0, x)
    out, seconds = {}, {}
    for method in methods:
        start = time.perf_counter()
        if method == "official":
            maps, *_ = identity_cams(net, x)
            out[method] = counterfactual_map(maps[[1], 1], maps[[1], 0])[0].cpu().numpy()
        else:
            out[method] = contrast_maps(net, method, x, baseline, [(1, 0)], every)[0].cpu().numpy()
        seconds[method] = time.perf_counter() - start
    out["random"] = random_map(faces[1])
    out["centre"] = centre_blob(net.template, faces.shape[1:3])
    return out, seconds


def play(net, game: Path, methods: list[str], count: int | None) -> tuple[list[dict], dict]:
    from s2w_toolkit.game.score import _face, _tasks, read_game

    _, cases = read_game(game)
    rows, seconds = [], defaultdict(list)
    for case, form in track(_tasks(cases[:count], ("self", "probe")), description="swap game"):
        other = _face(game, case["mate"] if form == "self" else case["probe"])
        faces = np.stack([other, _face(game, case["swapped"])])
        mask = _face(game, case["mask"])[..., 0] > 127
        maps, took = maps_of(net, faces, methods)
        for name, m in maps.items():
            rows.append({"case": case["case"], "form": form, "kind": case["kind"], "region": case["region"],
                         "explainer": name, "scores": map_scores(m, mask), "words": []})
        for name, s in took.items():
            seconds[name].append(s)
    return rows, {k: float(np.median(v)) for k, v in seconds.items()}


def game_table(summary: dict, names: list[str], score: str) -> list[list[str]]:
    lines = []
    for form in ("self", "probe"):
        for kind in ("swap", "null"):
            regions = sorted({r for n in names for r in summary["cells"].get(n, {})
                              if kind in summary["cells"][n][r].get(form, {})})
            for region in regions:
                row = [f"{form} {kind}", region]
                for name in names:
                    cell = summary["cells"].get(name, {}).get(region, {}).get(form, {}).get(kind, {}).get(score)
                    if cell is None:
                        row.append("")
                        continue
                    ci = "" if cell["low"] is None else f" [{cell['low']:.2f}, {cell['high']:.2f}]"
                    mark = {True: " ✓", False: "", None: ""}[cell["beats"]]
                    row.append(f"{cell['mean']:.2f}{ci}{mark}")
                lines.append(row)
    return lines


def markdown(result: dict) -> str:
    """The game's mass ratio and pointing (✓: beats both controls) and the deletion table, as
    markdown, from a result of this script (``--from`` a saved ``--out``)."""
    names = result["methods"] + list(CONTROLS)
    lines = []
    if "game" in result:
        for score in ("mass_ratio", "pointing"):
            lines += [f"| {score.replace('_', ' ')}: form, region | " + " | ".join(f"`{n}`" for n in names) + " |",
                      "| --- |" + " ---: |" * len(names)]
            for row in game_table(result["game"], names, score):
                label = f"{row[0]}, {row[1]}"
                cells = [c.split(" [")[0] + (" ✓" if c.endswith("✓") else "") for c in row[2:]]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
    if "deletion" in result:
        lines += ["| H_d | deletion AUC (higher: better) | minus `random` | minus `centre` | insertion AUC (lower: "
                  "better) |", "| --- | ---: | ---: | ---: | ---: |"]
        for name in names:
            d, i = result["deletion"][name]["deletion_auc"], result["deletion"][name]["insertion_auc"]
            diffs = [f"{d[f'minus_{c}']['mean']:+.3f} [{d[f'minus_{c}']['low']:+.3f}, {d[f'minus_{c}']['high']:+.3f}]"
                     if name != c else "" for c in CONTROLS]
            lines.append(f"| `{name}` | {d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}] | {diffs[0]} | {diffs[1]} | "
                         f"{i['mean']:.3f} [{i['low']:.3f}, {i['high']:.3f}] |")
    return "\n".join(lines)


def deletion(net, pairs_csv: str, root: str, methods: list[str], count: int | None, steps: int) -> dict:
    from s2w_toolkit.bench.pairs import read_pairs

    pairs = [p for p in read_pairs(pairs_csv, root) if not p.same][:count]
    per: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for p in track(pairs, description="deletion"):
        faces = np.stack([load_face(p.a, net)[0], load_face(p.b, net)[0]])
        x = net.preprocess(faces).to(net.device)
        with torch.no_grad():
            units = torch.nn.functional.normalize(net(x), dim=1)
        values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for t, f in ((0, 1), (1, 0)):
            maps, _ = maps_of(net, faces[[f, t]], methods)
            for name, m in maps.items():
                r = deletion_insertion(net, x[t:t + 1], faces[t], units[f:f + 1], m, steps=steps, fill="blur",
                                       orders=("saliency",))
                values[name]["deletion_auc"].append(r["deletion_auc"])
                values[name]["insertion_auc"].append(r["insertion_auc"])
        key = f"{p.a}|{p.b}"
        for name, by in values.items():
            for score, v in by.items():
                per[name][score][key] = float(np.mean(v))
    out = {}
    for name, by in per.items():
        out[name] = {score: {**mean_ci(list(v.values())),
                             **{f"minus_{c}": paired_difference(v, per[c][score]) for c in CONTROLS}}
                     for score, v in by.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game")
    parser.add_argument("--pairs")
    parser.add_argument("--root", default=".")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--methods", default=",".join(COUNTERFACTUALS))
    parser.add_argument("--count", type=int)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown too")
    parser.add_argument("--from", dest="saved", nargs="+", help="only print the markdown of saved --out files")
    args = parser.parse_args()
    if args.saved:
        merged: dict = {}
        for path in args.saved:
            merged.update(json.loads(Path(path).read_text()))
        print(markdown(merged))
        return
    torch.set_grad_enabled(False)
    net = load_backbone(args.backbone, device="cpu")
    methods = args.methods.split(",")
    names = methods + list(CONTROLS)
    console = Console()
    result: dict = {"backbone": args.backbone, "methods": methods}
    if args.game:
        rows, seconds = play(net, Path(args.game), methods, args.count)
        summary = summarise(rows)
        result.update(game=summary, seconds=seconds, rows=rows)
        for score in ("mass_ratio", "pointing", "hit_auc"):
            table = Table(title=f"swap game, {score} of H_d (✓: beats both controls)")
            for column in ["form", "region", *names]:
                table.add_column(column)
            for line in game_table(summary, names, score):
                table.add_row(*line)
            console.print(table)
        console.print("median seconds per map: " + ", ".join(f"{k} {v:.3f}" for k, v in seconds.items()))
    if args.pairs:
        result["deletion"] = deletion(net, args.pairs, args.root, methods, args.count, args.steps)
        table = Table(title="non-mate directions: cosine to F as T is erased in H_d's order (blur fill)")
        for column in ("map", "deletion AUC (higher better)", "minus random", "minus centre", "insertion AUC (lower)"):
            table.add_column(column)
        for name in names:
            d, i = result["deletion"][name]["deletion_auc"], result["deletion"][name]["insertion_auc"]
            diffs = [f"{d[f'minus_{c}']['mean']:+.3f} [{d[f'minus_{c}']['low']:+.3f}, {d[f'minus_{c}']['high']:+.3f}]"
                     if name != c else "" for c in CONTROLS]
            table.add_row(name, f"{d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}]", *diffs,
                          f"{i['mean']:.3f} [{i['low']:.3f}, {i['high']:.3f}]")
        console.print(table)
    if args.markdown:
        print(markdown(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
