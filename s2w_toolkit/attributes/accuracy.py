"""Attribute words against hand labels (``faces-dev/attributes.csv`` style): per label column,
how many faces were answered and how many of those were right.

Label columns and the words they are read from:

* ``gender`` (male/female): Gender; ``age_band`` (young/middle/senior): Age;
* ``hair_color`` (black/brown/blond/gray): Hair Color (``other``, red, has no word and is left out);
* ``facial_hair`` (beard/stubble/none): beard when Beard is present, stubble when 5 o'Clock
  Shadow or Mustache is (and Beard is not), none otherwise;
* ``smiling`` (yes/no): Smiling; ``mouth_open`` (yes/no): Mouth Open, else not Mouth Closed.

A hair word marked as a heuristic ("Black Hair (heuristic)") is read as the word.

``unsure`` labels are left out. Where the model abstains (a category it does not call present,
a face-parts word it could not measure) the face is labelled but not answered.

Example:
    >>> rows = {"Gender": {"word": "Male", "present": True, "value": 0.9, "model": "age-gender"},
    ...         "Hair Color": {"word": "Hair Color: unsure", "present": False, "value": None, "model": "face-parts"}}
    >>> predicted_labels(rows)
    {'gender': 'male', 'hair_color': None}
    >>> score([{"gender": "male"}, {"gender": "female"}], [{"gender": "male"}, {"gender": "male"}])[0]["right"]
    1
"""

from __future__ import annotations

from typing import Sequence

HAIR = {"Black Hair": "black", "Brown Hair": "brown", "Blond Hair": "blond", "Gray Hair": "gray"}
AGE = {"Young": "young", "Middle Aged": "middle", "Senior": "senior"}
COLUMNS = ("gender", "age_band", "hair_color", "facial_hair", "smiling", "mouth_open")
#: Labels that are not scored.
UNSCORED = (None, "", "unsure", "other")


def predicted_labels(row: dict) -> dict[str, str | None]:
    """The answer for each label column from one face's attribute rows by name
    (:meth:`AttributePrediction.rows`); None where the model abstained."""
    present = {name: r["present"] for name, r in row.items()}
    word = {name: r["word"] for name, r in row.items()}
    measured = {name: r["value"] is not None or r["model"] != "face-parts" for name, r in row.items()}
    out: dict[str, str | None] = {}
    if "Gender" in word:
        out["gender"] = word["Gender"].lower() if present["Gender"] else None
    if "Age" in word:
        out["age_band"] = AGE.get(word["Age"], word["Age"].lower()) if present["Age"] else None
    if "Hair Color" in word:
        hair = word["Hair Color"].removesuffix(" (heuristic)")
        out["hair_color"] = HAIR.get(hair, hair.lower()) if present["Hair Color"] else None
    if "Beard" in present:
        out["facial_hair"] = (None if not measured["Beard"] else "beard" if present["Beard"] else
                              "stubble" if present.get("5 o'Clock Shadow") or present.get("Mustache") else "none")
    if "Smiling" in present:
        out["smiling"] = ("yes" if present["Smiling"] else "no") if measured["Smiling"] else None
    if "Mouth Open" in present:
        out["mouth_open"] = ("yes" if present["Mouth Open"] else "no") if measured["Mouth Open"] else None
    elif "Mouth Closed" in present:
        out["mouth_open"] = ("no" if present["Mouth Closed"] else "yes") if measured["Mouth Closed"] else None
    return out


def score(labels: Sequence[dict], answers: Sequence[dict]) -> list[dict]:
    """Per label column with any scored label: ``faces`` (labelled), ``answered``, ``right``,
    the most ``common`` label and its share, and the ``confusions`` (label->word)."""
    out = []
    for column in COLUMNS:
        pairs = [(lab[column], ans[column]) for lab, ans in zip(labels, answers)
                 if column in ans and lab.get(column) not in UNSCORED]
        if not pairs:
            continue
        answered = [(t, g) for t, g in pairs if g is not None]
        truths = [t for t, _ in pairs]
        common = max(sorted(set(truths)), key=truths.count)
        out.append({"label": column, "faces": len(pairs), "answered": len(answered),
                    "right": sum(t == g for t, g in answered), "common": common,
                    "common_share": truths.count(common) / len(pairs),
                    "confusions": sorted({f"{t}->{g}" for t, g in answered if t != g})})
    return out
