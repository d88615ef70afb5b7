"""The attribute models' words against hand labels: accuracy per attribute, with its interval
and the score of always answering the most common label.

Reads a labels CSV like ``faces-dev/attributes.csv``: a ``face`` column (an image path relative
to ``--root``, ``FILE#i`` for the i-th face from the left of a group photo) and label columns.
Mapped to the toolkit's words:

* ``gender`` (male/female) - Gender (age-gender);
* ``age_band`` (young/middle/senior) - Age: Young / Middle Aged / Senior;
* ``hair_color`` (black/brown/blond/gray) - Hair Color; the labels ``other`` (red) and
  ``unsure`` are left out, since the vocabulary has no word for them;
* ``facial_hair`` (beard/stubble/none) - beard when Beard is present, stubble when
  5 o'Clock Shadow or Mustache is (and Beard is not), none otherwise;
* ``smiling`` (yes/no) - Smiling; ``mouth_open`` (yes/no) - not Mouth Closed.

``unsure`` labels are left out. Intervals: 95% Wilson intervals over faces.

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
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.bench.stats import wilson
from s2w_toolkit.faces.align import align_face
from s2w_toolkit.faces.detect import FaceDetector
from s2w_toolkit.io.images import read_image

HAIR = {"Black Hair": "black", "Brown Hair": "brown", "Blond Hair": "blond", "Gray Hair": "gray"}
AGE = {"Young": "young", "Middle Aged": "middle", "Senior": "senior"}


def predicted_labels(row: dict) -> dict[str, str]:
    """The toolkit's answer for each label column, from one face's attribute rows by name."""
    present = {name: r["present"] for name, r in row.items()}
    word = {name: r["word"] for name, r in row.items()}
    out = {}
    if "Gender" in word:
        out["gender"] = word["Gender"].lower()
    if "Age" in word:
        out["age_band"] = AGE.get(word["Age"], word["Age"].lower())
    if "Hair Color" in word:
        out["hair_color"] = HAIR.get(word["Hair Color"], word["Hair Color"].lower())
    if "Beard" in present:
        out["facial_hair"] = ("beard" if present["Beard"] else
                              "stubble" if present.get("5 o'Clock Shadow") or present.get("Mustache") else "none")
    if "Smiling" in present:
        out["smiling"] = "yes" if present["Smiling"] else "no"
    if "Mouth Closed" in present:
        out["mouth_open"] = "no" if present["Mouth Closed"] else "yes"
    return out


def faces_of(labels: list[dict], root: Path, net) -> list[np.ndarray]:
    detector = FaceDetector(landmarks=net.template.landmarks)
    out = []
    for label in labels:
        path, _, index = label["face"].partition("#")
        photo = read_image(root / path)
        if index:  # the i-th face from the left
            found = sorted(detector.detect(photo, min_faces=int(index) + 1), key=lambda f: f.box[0])[int(index)]
        else:
            found = detector.find(photo, 0, source=path)
        out.append(align_face(photo, found.landmarks, net.template))
    return out


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
    prediction = model.predict(np.stack(faces_of(labels, root, net)), net.template)
    answers = [predicted_labels({r["attribute"]: r for r in prediction.rows(i)}) for i in range(len(labels))]
    table = Table(title=f"{model.name} against {len(labels)} hand-labelled faces ({Path(args.labels).name})")
    for column in ("label", "faces", "accuracy [95% CI]", "always the most common label", "confusions (label -> word)"):
        table.add_column(column)
    for column in ("gender", "age_band", "hair_color", "facial_hair", "smiling", "mouth_open"):
        pairs = [(lab[column], ans[column]) for lab, ans in zip(labels, answers)
                 if column in ans and lab.get(column) not in (None, "", "unsure", "other")]
        if not pairs:
            continue
        right = sum(truth == guess for truth, guess in pairs)
        low, high = wilson(right, len(pairs))
        truths = [t for t, _ in pairs]
        common = max(set(truths), key=truths.count)
        wrong = sorted({f"{t}->{g}" for t, g in pairs if t != g})
        table.add_row(column, str(len(pairs)), f"{right / len(pairs):.0%} [{low:.0%}, {high:.0%}]",
                      f"{truths.count(common) / len(pairs):.0%} ({common})", ", ".join(wrong))
    Console().print(table)


if __name__ == "__main__":
    main()
