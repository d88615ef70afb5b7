"""Face areas as words: each area's map lies on its part of the face, every area is eligible on
every face, and in a composite its word says what the other models see there."""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit.attributes.face_areas import AREAS, FaceAreas, describe_areas
from s2w_toolkit.attributes.face_regions import centroid
from s2w_toolkit.attributes.word_regions import regions_for
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
from s2w_toolkit.faces.templates import dlib_chip_template

TEMPLATE = dlib_chip_template(150, 0.25)


@pytest.fixture(scope="module")
def faces(demo):
    from s2w_toolkit.faces.align import align_face
    from s2w_toolkit.faces.detect import FaceDetector
    from s2w_toolkit.io.images import read_image

    out = []
    for name in ("obama", "biden"):
        photo = read_image(demo[name])
        out.append(align_face(photo, FaceDetector().find(photo).landmarks, TEMPLATE))
    return np.stack(out)


@pytest.mark.parametrize("landmarks", ["dlib68", "mesh"])
def test_each_area_lies_on_its_part_of_the_face(faces, landmarks):
    p = FaceAreas(landmarks=landmarks).predict(faces, TEMPLATE)
    points = aligned_landmarks(faces, TEMPLATE, "dlib68")
    assert p.names == list(AREAS) and bool(p.eligible.all()) and p.kinds == ["category"] * len(AREAS)
    iod = np.linalg.norm(points[:, 36:42].mean(1) - points[:, 42:48].mean(1), axis=1)
    parts = {"Nose": [30, 33], "Mouth": list(range(48, 60)), "Eyes": list(range(36, 48)),
             "Eyebrows": list(range(17, 27))}
    for i in range(len(faces)):
        for area, idx in parts.items():
            y, x = centroid(p.maps[i, AREAS.index(area)].numpy())
            cy, cx = points[i, idx, 1].mean(), points[i, idx, 0].mean()
            assert np.hypot(y - cy, x - cx) < 0.25 * iod[i], (area, landmarks)  # on its part, by dlib's points
        shares = p.maps[i].flatten(1).sum(1) / p.maps[i].flatten(1).sum(1).sum()
        assert float(shares[AREAS.index("Cheeks")]) > float(shares[AREAS.index("Nose")]) * 0.5


def test_an_area_is_described_by_what_the_other_models_see_there(faces):
    from s2w_toolkit.attributes.composite import load_attributes

    model = load_attributes("face-geometry,face-areas")
    p = model.predict(faces, TEMPLATE)
    for i in range(len(faces)):
        nose = p.words[i][p.index("Nose")]
        seen = [name for name in ("Big Nose", "Pointy Nose") if bool(p.present[i, p.index(name)])]
        assert nose == "nose" + (f" ({', '.join(n.split()[0].lower() for n in seen)})" if seen else "")
    assert all(regions_for(area) == (area.lower(),) for area in AREAS)


def test_describing_leaves_other_columns_and_a_lone_model_alone():
    import torch

    from s2w_toolkit.attributes import AttributePrediction

    p = AttributePrediction.build(["Brows Raised", "Eyebrows", "Smiling"], [["Brows Raised", "eyebrows", "Smiling"]],
                                  [[0.9, 1.0, 0.8]], [[True, True, True]], np.zeros((1, 3, 4, 4)),
                                  kinds=["binary", "category", "binary"], model=["mediapipe", "face-areas", "mediapipe"])
    regions = {"Brows Raised": ("eyebrows", "forehead"), "Eyebrows": ("eyebrows",), "Smiling": ("mouth", "cheeks")}
    out = describe_areas(p, regions)
    assert out.words == [["Brows Raised", "eyebrows (raised)", "Smiling"]]
    p.present = torch.tensor([[False, True, True]])
    p.words = [["Brows Raised", "eyebrows", "Smiling"]]
    assert describe_areas(p, regions).words[0][1] == "eyebrows"  # nothing present there: the area alone
