"""``face-geometry``: face-parts' geometric words, and a hair colour that names a colour only on
unambiguous evidence and then says it is a heuristic."""

import math

import numpy as np
import pytest

from s2w_toolkit.attributes.accuracy import predicted_labels
from s2w_toolkit.attributes.face_geometry import (DOMINANT_SHARE, DOMINANT_SPREAD, GEOMETRY_COLUMNS,
                                                  FaceGeometry)
from s2w_toolkit.attributes.face_parts import FaceParts, decide

BLACK = {"hair_lightness": 15.0, "hair_chroma": 4.0, "hair_share": 0.8, "hair_spread": 10.0}


def _measures(**hair) -> dict:
    base = {"nose_size": 0.6, "nose_pointiness": 1.0, "lip_thickness": 0.2, "eye_aspect": 0.3, "brow_arch": 0.1,
            "face_ratio": 1.0, "jaw_angle": 145.0}
    return {**base, **BLACK, **hair}


def test_a_clear_dominant_colour_is_named_as_a_heuristic():
    words = FaceGeometry().decide_words(_measures())
    assert words["Hair Color"]["word"] == "Black Hair (heuristic)" and words["Hair Color"]["present"]
    assert predicted_labels({"Hair Color": {**words["Hair Color"], "model": "face-geometry"}}) == {"hair_color": "black"}


@pytest.mark.parametrize("hair", [
    {"hair_share": DOMINANT_SHARE - 0.01},        # the band is mostly skin or forehead
    {"hair_spread": DOMINANT_SPREAD + 0.5},       # two colours: hair against a bright background
    {"hair_share": math.nan, "hair_spread": math.nan},
    {"hair_lightness": 38.0},                     # near the black/other boundary (40): not unambiguous
])
def test_hair_colour_abstains_unless_the_evidence_is_unambiguous(hair):
    measures = _measures(**hair)
    assert decide(measures, FaceGeometry().rules)["Hair Color"]["present"] or math.isnan(measures["hair_share"])
    words = FaceGeometry().decide_words(measures)
    assert words["Hair Color"] == {**words["Hair Color"], "word": "Hair Color: unsure", "present": False}


def test_the_geometric_words_are_face_parts_own():
    model, parts = FaceGeometry(), FaceParts()
    assert model.attributes == GEOMETRY_COLUMNS and set(GEOMETRY_COLUMNS) <= set(parts.attributes)
    assert "Smiling" not in model.attributes and "Beard" not in model.attributes
    measures = _measures()
    ours, theirs = model.decide_words(measures), decide(measures, model.rules)
    for column in GEOMETRY_COLUMNS[:-1]:
        assert ours[column] == theirs[column]
    p = model.predict(np.full((2, 150, 150, 3), 128, np.uint8))
    assert p.names == list(GEOMETRY_COLUMNS) and tuple(p.maps.shape) == (2, len(GEOMETRY_COLUMNS), 150, 150)
