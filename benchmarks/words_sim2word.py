"""Are Sim2Word's words worth reading? Named rate, selection-matched control and stability, on
the non-mate pairs of a pairs CSV, for the default settings and for the official ones.

Per non-mate direction (two per pair):

* **named**: the explanation names a word (default: the top *supported* word; official: the
  top-ranked eligible word, always named when one is eligible);
* **beats the selection-matched control**: the named word's statistic beats more than half of
  the selection-matched controls (by the default run's ``selection`` rule: for ``raw`` the best
  s_j over every eligible mask's k-th random placement), drawn *independently* of the run that
  chose it (the same settings with another seed and no copies, so the choice and the test do
  not share draws);
* **survives JPEG q90 / a 2 px shift**: the same attribute is named after re-saving the photo
  as JPEG at quality 90, or after shifting the photo 2 px right before detection and alignment
  (counted over the directions that name a word; naming none afterwards counts as changed).

Means with 95% bootstrap intervals over pairs (the two directions of a pair move together).

The copies and the fresh control are computed only for a pair that names a word, and a pair the
model calls a mate stops after its first run: neither changes a figure.

    python benchmarks/words_sim2word.py PAIRS.csv --root DIR [--limit N | --sample N --seed S]
        [--out words.json] [-o KEY=VALUE]
        [--attributes NAMES] [--attribute-weights FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import track
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.faces.detect import FaceDetector
from s2w_toolkit.faces.align import align_face
from s2w_toolkit.io.images import read_image
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.sim2word.explainer import settings_from_options
from s2w_toolkit.testing import pair_from_faces

VARIANTS = ("original", "jpeg90", "shift2")


def variant(image: np.ndarray, name: str) -> np.ndarray:
    """The photo as it is, re-saved as JPEG quality 90, or shifted 2 px right (edge pixels repeated)."""
    if name == "jpeg90":
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    if name == "shift2":
        return np.concatenate([np.repeat(image[:, :1], 2, axis=1), image[:, :-2]], axis=1)
    return image


def aligned_faces(paths: list[str], net) -> dict[tuple[str, str], np.ndarray]:
    detector = FaceDetector(landmarks=net.template.landmarks)
    faces = {}
    for path in paths:
        photo = read_image(path)
        for name in VARIANTS:
            found = detector.find(variant(photo, name), 0, source=path)
            faces[path, name] = align_face(variant(photo, name), found.landmarks, net.template)
    return faces


def named(result, official: bool) -> list[dict | None]:
    """The row each direction names (None when it names none)."""
    out = []
    for d in result.directions:
        rows = d.ranked() if official else d.words()
        out.append(rows[0] if rows else None)
    return out


def measure(pairs, faces, net, attributes, settings: Settings, official: bool) -> list[dict]:
    """One record per non-mate pair: per direction, named / beats / survives."""
    records = []
    check = dataclasses.replace(settings, seed=settings.seed + 1, placements=max(settings.placements, 19), stability=0,
                                sequential=False)  # every placement drawn: the control is complete
    for pair in track(pairs, description=f"{'official' if official else 'default'} settings"):
        base = run_sim2word(net, pair_from_faces(net, faces[pair.a, "original"], faces[pair.b, "original"]),
                            attributes, settings)
        if base.mate:  # called the same person by the model: not a non-mate direction
            continue
        run = {"original": base}
        words = {"original": named(base, official)}
        if any(words["original"]):  # the copies and the fresh control only matter for a named word
            for name in VARIANTS[1:]:
                p = pair_from_faces(net, faces[pair.a, name], faces[pair.b, name])
                run[name] = run_sim2word(net, p, attributes, settings)
                words[name] = named(run[name], official)
            fresh = run_sim2word(net, pair_from_faces(net, faces[pair.a, "original"], faces[pair.b, "original"]),
                                 attributes, check)
        record = {"a": pair.a, "b": pair.b, "similarity": base.similarity, "directions": []}
        for i, row in enumerate(words["original"]):
            entry = {"named": row is not None, "word": None if row is None else row["word"]}
            if row is not None:  # the word's statistic against the selection control, both from the fresh run
                d = fresh.directions[i]
                statistic = next(r["statistic"] for r in d.rows if r["attribute"] == row["attribute"])
                entry["win_rate"] = float(np.mean(statistic > np.asarray(d.summary["selection_statistic"])))
                entry["beats"] = entry["win_rate"] > 0.5
                for name in VARIANTS[1:]:
                    other = words[name][i]
                    entry[name] = other is not None and other["attribute"] == row["attribute"]
            record["directions"].append(entry)
        records.append(record)
    return records


def figures(records: list[dict]) -> dict[str, dict]:
    """Per-pair means of each figure, with bootstrap intervals over pairs."""
    def per_pair(key, among_named):
        values = []
        for r in records:
            ds = [d for d in r["directions"] if d["named"]] if among_named else r["directions"]
            if ds:
                values.append(float(np.mean([bool(d.get(key)) for d in ds])))
        return mean_ci(values, seed=0)

    return {"named": per_pair("named", False), "beats": per_pair("beats", True),
            "jpeg90": per_pair("jpeg90", True), "shift2": per_pair("shift2", True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("--root", default=None)
    parser.add_argument("--limit", type=int, default=None, help="the first N pairs only")
    parser.add_argument("--sample", type=int, default=None, help="a seeded random subset of N non-mate pairs")
    parser.add_argument("--seed", type=int, default=0, help="the seed of --sample")
    parser.add_argument("--attributes", default=None)
    parser.add_argument("--attribute-weights", default=None, help="e.g. heads from `s2w attributes train`")
    parser.add_argument("--out", default=None, help="write every record and figure here (JSON)")
    parser.add_argument("-o", "--option", action="append", default=[], help="default-run Sim2Word option KEY=VALUE")
    args = parser.parse_args()
    net = load_backbone("dlib-resnet", device="cpu")
    attributes = load_attributes(args.attributes, args.attribute_weights)
    pairs = [p for p in read_pairs(args.pairs, args.root) if not p.same][: args.limit]
    if args.sample is not None and args.sample < len(pairs):  # a seeded subset, in the file's order
        keep = set(np.random.default_rng(args.seed).choice(len(pairs), args.sample, replace=False).tolist())
        pairs = [p for i, p in enumerate(pairs) if i in keep]
    started = time.perf_counter()
    faces = aligned_faces(sorted({p.a for p in pairs} | {p.b for p in pairs}), net)
    default = settings_from_options(dict(item.split("=", 1) for item in args.option))
    runs = {"default": measure(pairs, faces, net, attributes, default, official=False),
            "official": measure(pairs, faces, net, attributes, Settings.official(), official=True)}
    summary = {name: figures(records) for name, records in runs.items()}
    table = Table(title=f"Sim2Word words on {len(runs['default'])} non-mate pairs ({net.name}, {attributes.name})")
    for column in ("settings", "named", "named word beats the selection-matched control", "same after JPEG q90",
                   "same after a 2 px shift"):
        table.add_column(column)
    for name, figs in summary.items():
        table.add_row(name, *(f"{f['mean']:.0%} [{f['low']:.0%}, {f['high']:.0%}] (n={f['n']})" if f["n"] else "-"
                              for f in figs.values()))
    Console().print(table)
    print(f"{time.perf_counter() - started:.0f} s; default settings {dataclasses.asdict(default)}", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps({"settings": dataclasses.asdict(default), "summary": summary,
                                              "records": runs}, indent=1))


if __name__ == "__main__":
    main()
