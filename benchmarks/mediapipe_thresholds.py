"""How the ``mediapipe`` attribute model's thresholds were chosen, reproducibly, on faces-dev.

For each labelled word (Smiling from ``smiling``, Mouth Open from ``mouth_open``; ``unsure``
labels left out) it prints every face's value, then the per-threshold table (each midpoint
between consecutive sorted values: right, balanced accuracy) and the chosen threshold by one
rule: **the midpoint between the two classes' medians** (simple, and no single face moves it
much), taken on the scale of the measure: arithmetic for Smiling's blendshape score (bounded, 0
to 1), geometric for Mouth Open's lip gap (a positive length ratio whose closed and open values
differ by a factor of 30: the arithmetic midpoint sits at five times the typical open-lip gap of
a slightly parted mouth). The geometric rule for the gap was adopted after the arithmetic one
(0.085, 18/21) had been printed; both are printed. Accuracy at that threshold comes with its 95% Wilson interval. For the unlabelled
words it prints the spread of the measure and how often it is present at its threshold (0.5 on
the blendshape score), also for the measure of the dropped word (squint). The chosen values are copied by hand into ``s2w_toolkit/attributes/
mediapipe.py``; faces-dev is never read at run time.

    python benchmarks/mediapipe_thresholds.py [/work/shared/faces-dev/attributes.csv] [--root DIR]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.attributes.labels import load_labelled_face
from s2w_toolkit.attributes.mediapipe import WORDS, MediaPipeAttributes, measures
from s2w_toolkit.bench.stats import wilson

LABELLED = {"Smiling": "smiling", "Mouth Open": "mouth_open"}


def threshold_table(values: list[float], truth: list[bool]) -> list[dict]:
    """Right answers and balanced accuracy at each midpoint between consecutive sorted values."""
    v = np.sort(np.unique(values))
    cuts = [float(v[0]) - 1e-3, *((v[1:] + v[:-1]) / 2).tolist(), float(v[-1]) + 1e-3]
    pos = sum(truth)
    rows = []
    for t in cuts:
        said = [x > t for x in values]
        tp = sum(s and y for s, y in zip(said, truth))
        tn = sum(not s and not y for s, y in zip(said, truth))
        rows.append({"threshold": t, "right": tp + tn, "tp": tp, "tn": tn,
                     "balanced": (tp / max(pos, 1) + tn / max(len(truth) - pos, 1)) / 2})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="?", default="/work/shared/faces-dev/attributes.csv")
    parser.add_argument("--root", default=None)
    args = parser.parse_args()
    root = Path(args.root) if args.root else Path(args.labels).parent
    with open(args.labels, newline="") as handle:
        labels = list(csv.DictReader(handle))
    net = load_backbone("dlib-resnet", device="cpu")
    faces = np.stack([load_labelled_face(row["face"], root, net) for row in labels])
    model = MediaPipeAttributes.load()
    values = {k: v.tolist() for k, v in measures(model.run(faces, net.template)).items()}
    console = Console()
    per_face = Table(title=f"mediapipe measures on {len(labels)} faces ({Path(args.labels).name})")
    for column in ("face", *LABELLED.values(), *values):
        per_face.add_column(column)
    for i, row in enumerate(labels):
        per_face.add_row(row["face"], *(row[c] for c in LABELLED.values()), *(f"{values[k][i]:.3f}" for k in values))
    console.print(per_face)
    words = {w.measure: w for w in WORDS}
    for measure, x in values.items():  # unlabelled: the spread, and the level on faces not smiling
        word = words.get(measure)
        if word is not None and word.name in LABELLED:
            continue
        threshold = word.threshold if word else 0.5
        share = sum(v > threshold for v in x) / len(x)
        neutral = [v for v, row in zip(x, labels) if row["smiling"] == "no"]
        console.print(f"{word.name if word else 'dropped'} ({measure}, unlabelled): min {min(x):.3f}, median "
                      f"{statistics.median(x):.3f}, max {max(x):.3f}; on faces labelled not smiling median "
                      f"{statistics.median(neutral):.3f}; present at {threshold} on {share:.0%} of {len(x)} faces")
    for word in WORDS:
        column = LABELLED.get(word.name)
        if column is None:
            continue
        kept = [(values[word.measure][i], row[column] == "yes") for i, row in enumerate(labels)
                if row[column] in ("yes", "no")]
        x, truth = [v for v, _ in kept], [y for _, y in kept]
        yes = statistics.median([v for v, y in kept if y])
        no = statistics.median([v for v, y in kept if not y])
        arithmetic = (yes + no) / 2
        chosen = float(np.sqrt(yes * no)) if word.name == "Mouth Open" else arithmetic
        table = Table(title=f"{word.name} ({word.measure}) against '{column}': {sum(truth)} yes, "
                            f"{len(truth) - sum(truth)} no")
        for c in ("threshold", "right", "yes right", "no right", "balanced accuracy"):
            table.add_column(c, justify="right")
        for r in threshold_table(x, truth):
            table.add_row(f"{r['threshold']:.3f}", f"{r['right']}/{len(x)}", str(r["tp"]), str(r["tn"]),
                          f"{r['balanced']:.0%}")
        console.print(table)
        right = sum((v > chosen) == y for v, y in kept)
        low, high = wilson(right, len(kept))
        if chosen != arithmetic:
            other = sum((v > arithmetic) == y for v, y in kept)
            console.print(f"{word.name}: the arithmetic midpoint {arithmetic:.3f} gets {other}/{len(kept)}")
        console.print(f"{word.name}: class medians yes {yes:.3f}, no {no:.3f} -> threshold {chosen:.3f}; "
                      f"accuracy {right}/{len(kept)} = {right / len(kept):.0%} [95% CI {low:.0%}, {high:.0%}]; "
                      f"in mediapipe.py now {word.threshold}")


if __name__ == "__main__":
    main()
