"""The attribute models' words against hand labels: accuracy per attribute, with its interval
and the score of always answering the most common label.

Reads a labels CSV like ``faces-dev/attributes.csv``: a ``face`` column (an image path relative
to ``--root``, ``FILE#i`` for the i-th face from the left of a group photo) and label columns,
mapped to the toolkit's words as :mod:`s2w_toolkit.attributes.accuracy` says. Where the model
abstains (hair hidden, a face too dark) the face counts in ``faces`` but not in ``answered``;
the accuracy is over the answered faces. Intervals: 95% Wilson intervals over faces.

    python benchmarks/attributes_accuracy.py LABELS.csv --root DIR [--attributes age-gender,face-parts]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.attributes.accuracy import predicted_labels, score
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.attributes.labels import load_labelled_face
from s2w_toolkit.bench.stats import wilson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels")
    parser.add_argument("--root", default=None)
    parser.add_argument("--attributes", default=None)
    parser.add_argument("--attribute-weights", default=None)
    args = parser.parse_args()
    root = Path(args.root) if args.root else Path(args.labels).parent
    with open(args.labels, newline="") as handle:
        labels = list(csv.DictReader(handle))
    net = load_backbone("dlib-resnet", device="cpu")
    model = load_attributes(args.attributes, args.attribute_weights)
    faces = np.stack([load_labelled_face(label["face"], root, net) for label in labels])
    prediction = model.predict(faces, net.template)
    answers = [predicted_labels({r["attribute"]: r for r in prediction.rows(i)}) for i in range(len(labels))]
    table = Table(title=f"{model.name} against {len(labels)} hand-labelled faces ({Path(args.labels).name})")
    for column in ("label", "faces", "answered", "accuracy [95% CI]", "always the most common label",
                   "confusions (label -> word)"):
        table.add_column(column)
    for row in score(labels, answers):
        low, high = wilson(row["right"], row["answered"])
        accuracy = f"{row['right'] / row['answered']:.0%} [{low:.0%}, {high:.0%}]" if row["answered"] else "-"
        table.add_row(row["label"], str(row["faces"]), str(row["answered"]), accuracy,
                      f"{row['common_share']:.0%} ({row['common']})", ", ".join(row["confusions"]))
    Console().print(table)


if __name__ == "__main__":
    main()
