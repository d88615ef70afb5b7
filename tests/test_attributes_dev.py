"""The default attribute words against the hand labels of faces-dev (skipped without it).

The face-parts thresholds were recalibrated on these faces, so the figures are in-sample: this
guards the calibration, it does not measure how well it generalises.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

FACES_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces-dev"
pytestmark = pytest.mark.skipif(not (FACES_DEV / "attributes.csv").is_file(), reason="needs ../shared/faces-dev")


OLD = "age-gender,face-parts"  # the defaults before the learned models
NEW = "mediapipe,faceres,face-geometry"  # the defaults now


@pytest.fixture(scope="module")
def dev(net):
    from s2w_toolkit.attributes.composite import load_attributes
    from s2w_toolkit.attributes.labels import load_labelled_face

    with open(FACES_DEV / "attributes.csv", newline="") as handle:
        labels = list(csv.DictReader(handle))
    faces = np.stack([load_labelled_face(label["face"], FACES_DEV, net) for label in labels])
    return labels, {spec: load_attributes(spec, device="cpu").predict(faces, net.template) for spec in (OLD, NEW)}


def _rows(labels, prediction) -> dict:
    from s2w_toolkit.attributes.accuracy import predicted_labels, score

    answers = [predicted_labels({r["attribute"]: r for r in prediction.rows(i)}) for i in range(len(labels))]
    return {r["label"]: r for r in score(labels, answers)}


def test_the_old_default_words_reach_the_stated_accuracy(dev):
    labels, predictions = dev
    rows = _rows(labels, predictions[OLD])
    accuracy = {k: r["right"] / r["answered"] for k, r in rows.items()}
    assert accuracy["gender"] >= 0.9 and accuracy["age_band"] >= 0.8
    assert accuracy["facial_hair"] >= 0.9  # 76% before the recalibration
    assert accuracy["hair_color"] >= 0.7 and rows["hair_color"]["answered"] >= 0.75 * rows["hair_color"]["faces"]
    assert accuracy["smiling"] >= 0.8 and accuracy["mouth_open"] >= 0.8  # 78% and 71% before


def test_the_learned_default_words_reach_the_stated_accuracy(dev):
    """docs/attributes.md: gender 100%, age band 100%, smiling 89%, mouth open 86% (the smiling and
    mouth thresholds chosen on these faces); hair colour answers only when unambiguous, and then is
    right at least as often as always naming the most common colour."""
    labels, predictions = dev
    rows = _rows(labels, predictions[NEW])
    accuracy = {k: r["right"] / r["answered"] for k, r in rows.items() if r["answered"]}
    assert accuracy["gender"] >= 0.95 and accuracy["age_band"] >= 0.9
    assert accuracy["smiling"] >= 0.85 and accuracy["mouth_open"] >= 0.8
    hair = rows["hair_color"]
    assert hair["answered"] < hair["faces"] and accuracy.get("hair_color", 1.0) >= hair["common_share"]
    assert "facial_hair" not in rows  # no default word speaks of beards now


@pytest.mark.parametrize("spec, names", [(OLD, ("Bushy Eyebrows", "Pointy Nose")), (NEW, ("Pointy Nose", "Big Nose"))])
def test_shape_words_are_not_near_universal(dev, spec, names):
    prediction = dev[1][spec]
    for name in names:  # Bushy Eyebrows and Pointy Nose were on 80% and 55% of these faces before
        rate = float(prediction.present[:, prediction.index(name)].float().mean())
        assert rate <= 0.35, (name, rate)
