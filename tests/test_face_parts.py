"""The ``face-parts`` heuristic attribute model: region masks, descriptors and predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2w_toolkit.attributes.face_parts import (THRESHOLDS, FaceParts, Rule, colour_measures, decide,
                                               geometry_measures, measure)
from s2w_toolkit.attributes.face_regions import (REGIONS, FaceFrame, binary_masks, centroid,
                                                 mean_face_landmarks, region_masks)
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
from s2w_toolkit.faces.templates import arcface_template, dlib_chip_template

CATEGORY_WORDS = {"Face Shape": {"Oval Face", "Round Face", "Square Face"},
                  "Hair Color": {"Black Hair", "Blond Hair", "Brown Hair", "Gray Hair"}}


@pytest.fixture(scope="module")
def faces(net, demo):
    from s2w_toolkit import load_face

    return np.stack([load_face(demo[name], net)[0] for name in ("obama", "biden")])


@pytest.fixture(scope="module")
def points(faces, net):
    return aligned_landmarks(faces, net.template, "dlib68")


@pytest.fixture(scope="module")
def prediction(faces, net):
    return FaceParts().predict(faces, net.template)


@pytest.fixture
def typical():
    """A typical frontal face's landmarks (mouth closed) in dlib's 150 px chip."""
    return mean_face_landmarks(dlib_chip_template(150, 0.25))


def test_prediction_on_demo_faces(prediction):
    a = len(FaceParts.attributes)
    assert a == 13 and prediction.names == list(FaceParts.attributes)
    assert tuple(prediction.maps.shape) == (2, a, 150, 150)
    assert float(prediction.maps.min()) >= 0.0 and float(prediction.maps.max()) <= 1.0
    assert (prediction.maps.flatten(2).amax(dim=2) > 0.9).all()  # no column has an empty map
    assert np.isfinite(prediction.values.numpy()).all()
    conf = prediction.confidences.numpy()
    assert ((conf >= 0) & (conf <= 1)).all()
    assert set(prediction.models) == {"face-parts"}
    for j, name in enumerate(prediction.names):
        kind = prediction.kinds[j]
        assert kind == ("category" if name in CATEGORY_WORDS else "binary")
        for i in range(2):
            word = prediction.words[i][j]
            assert word in CATEGORY_WORDS[name] if kind == "category" else word == name
            if kind == "binary":  # present exactly when the value lies beyond the threshold
                rule = next(r for r in THRESHOLDS if r.column == name)
                beyond = rule.direction * (float(prediction.values[i, j]) - rule.threshold) > 0
                assert bool(prediction.present[i, j]) == beyond
            else:
                assert bool(prediction.present[i, j])
                assert float(prediction.confidences[i, j]) >= 1 / len(CATEGORY_WORDS[name])


def test_demo_words(prediction):
    obama, biden = ({r["attribute"]: r for r in prediction.rows(i)} for i in range(2))
    assert obama["Smiling"]["present"] and not obama["Mouth Closed"]["present"]
    assert biden["Mouth Closed"]["present"] and not biden["Smiling"]["present"]
    assert obama["Bushy Eyebrows"]["value"] > biden["Bushy Eyebrows"]["value"]  # Obama's brows are darker
    assert biden["Hair Color"]["word"] == "Gray Hair"
    assert obama["Hair Color"]["value"] < biden["Hair Color"]["value"]  # hair L*: Obama's darker
    for row in (obama, biden):  # clean-shaven
        assert not (row["Beard"]["present"] or row["Mustache"]["present"] or row["5 o'Clock Shadow"]["present"])


def test_thresholds_table_covers_every_column(prediction):
    rules = {r.column: r for r in THRESHOLDS}
    assert set(rules) == set(FaceParts.attributes)
    for rule in THRESHOLDS:
        assert rule.spread > 0 and rule.direction in (1, -1) and rule.note
        assert set(rule.region) <= set(REGIONS)
    words = {c: {r.word for r in THRESHOLDS if r.column == c} | {r.otherwise for r in THRESHOLDS if r.column == c}
             for c in CATEGORY_WORDS}
    assert {c: w - {""} for c, w in words.items()} == CATEGORY_WORDS
    first = [next(r for r in THRESHOLDS if r.column == c) for c in FaceParts.attributes]
    assert prediction.thresholds == [r.threshold for r in first]
    assert [r.word or r.column for r in first][:11] == list(FaceParts.attributes[:11])


def test_regions_lie_on_their_landmarks(points):
    for p in points:
        masks = region_masks(p, (150, 150))
        assert set(masks) == set(REGIONS)
        for m in masks.values():
            assert m.shape == (150, 150) and m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
        iod = FaceFrame(p).iod
        ny, nx = centroid(masks["nose"])
        assert math.hypot(nx - p[30, 0], ny - p[30, 1]) < 6
        my, mx = centroid(masks["mouth"])
        corners = p[[48, 54]].mean(axis=0)
        assert math.hypot(mx - corners[0], my - corners[1]) < 0.15 * iod
        ey, ex = centroid(masks["eyes"])
        assert math.hypot(ex - p[36:48, 0].mean(), ey - p[36:48, 1].mean()) < 2
        brow_y = p[17:27, 1].mean()
        assert centroid(masks["hair"])[0] < brow_y and centroid(masks["forehead"])[0] < brow_y
        assert centroid(masks["jaw"])[0] > corners[1]
        cheeks = masks["cheeks"]
        assert cheeks[:, : int(p[30, 0]) - 5].sum() > 300 and cheeks[:, int(p[30, 0]) + 5:].sum() > 300
        sharp = binary_masks(p, (150, 150))
        assert not (sharp["cheeks"] & sharp["nose"]).any() and not (sharp["jaw"] & sharp["mouth"]).any()
        assert not (sharp["hair"] & sharp["forehead"]).any() and not (sharp["forehead"] & sharp["eyebrows"]).any()


def test_region_masks_follow_the_landmarks(typical):
    before = region_masks(typical, (150, 150))
    after = region_masks(typical + [6, 4], (150, 150))
    for name in ("nose", "mouth", "eyes", "eyebrows", "cheeks", "upper_lip"):
        dy, dx = np.subtract(centroid(after[name]), centroid(before[name]))
        assert abs(dy - 4) < 0.1 and abs(dx - 6) < 0.1, name


def test_maps_move_when_the_face_moves(faces):
    face = faces[0]
    shifted = np.pad(face, ((4, 0), (6, 0), (0, 0)), mode="edge")[:150, :150]  # 6 px right, 4 px down
    p = FaceParts().predict(np.stack([face, shifted]))
    for column in ("Big Nose", "Smiling"):
        j = p.index(column)
        dy, dx = np.subtract(centroid(p.maps[1, j].numpy()), centroid(p.maps[0, j].numpy()))
        assert abs(dy - 4) < 1.5 and abs(dx - 6) < 1.5, column


def test_geometry_is_scale_and_rotation_free(typical):
    base = geometry_measures(typical)
    angle = math.radians(12)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    for moved in (typical * 2.5 + [30, -10], (typical - 75) @ rot.T + 75):
        other = geometry_measures(moved)
        for key, value in base.items():
            assert other[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key


def test_wider_nose_raises_big_nose(typical):
    wide = typical.copy()
    base = wide[33, 0]
    wide[31:36, 0] = base + (wide[31:36, 0] - base) * 1.4
    before, after = geometry_measures(typical)["nose_size"], geometry_measures(wide)["nose_size"]
    assert after > before * 1.15
    assert not decide(measure(np.full((150, 150, 3), 128, np.uint8), typical))["Big Nose"]["present"]
    assert decide(measure(np.full((150, 150, 3), 128, np.uint8), wide))["Big Nose"]["present"]


def test_opening_the_mouth_flips_mouth_closed(typical):
    grey = np.full((150, 150, 3), 128, np.uint8)
    closed = decide(measure(grey, typical))["Mouth Closed"]
    iod = FaceFrame(typical).iod
    opened = typical.copy()
    opened[61:64, 1] -= 0.08 * iod  # inner upper lip up
    opened[65:68, 1] += 0.08 * iod  # inner lower lip down
    open_ = decide(measure(grey, opened))["Mouth Closed"]
    assert closed["present"] and closed["confidence"] > 0.8
    assert not open_["present"] and open_["confidence"] < 0.1
    assert open_["value"] == pytest.approx(closed["value"] + 0.16, abs=0.01)


@pytest.mark.parametrize("colour, word", [((0, 0, 0), "Black Hair"), ((250, 230, 150), "Blond Hair"),
                                          ((205, 205, 205), "Gray Hair"), ((140, 95, 55), "Brown Hair")])
def test_painted_hair_gives_its_colour(faces, points, colour, word):
    face, p = faces[0].copy(), points[0]
    masks = binary_masks(p, face.shape[:2])
    face[masks["hair"]] = colour
    decided = decide(colour_measures(face, p, masks) | geometry_measures(p))["Hair Color"]
    assert decided["word"] == word and decided["confidence"] > 0.5


def test_stippled_chin_raises_the_beard(faces, points):
    face, p = faces[1], points[1]  # Biden: clean-shaven
    masks = binary_masks(p, face.shape[:2])
    before = measure(face, p, masks)
    stipple = masks["jaw"] & (np.indices(masks["jaw"].shape).sum(axis=0) % 2 == 0)
    bearded = face.copy()
    bearded[masks["jaw"]] = (bearded[masks["jaw"]] * 0.55).astype(np.uint8)
    bearded[stipple] = (bearded[stipple] * 0.3).astype(np.uint8)
    after = measure(bearded, p, masks)
    assert after["jaw_darkening"] > before["jaw_darkening"] + 0.2
    assert after["lower_face_grain"] > before["lower_face_grain"] * 1.5
    assert after["lip_darkening"] == pytest.approx(before["lip_darkening"])  # the upper lip was untouched
    assert not decide(before)["Beard"]["present"] and decide(after)["Beard"]["present"]
    moustache = face.copy()
    moustache[masks["upper_lip"]] = (moustache[masks["upper_lip"]] * 0.4).astype(np.uint8)
    assert decide(measure(moustache, p, masks))["Mustache"]["present"]


def test_confidence_definition():
    rule = Rule("X", "x", threshold=2.0, spread=0.5, direction=-1, region=("nose",), note="test")
    assert rule.probability(2.0) == pytest.approx(0.5)
    assert rule.probability(1.5) == pytest.approx(1 / (1 + math.exp(-1)))
    assert rule.probability(1e9) == pytest.approx(0.0) and math.isnan(rule.probability(math.nan))
    nothing = {r.measure: math.nan for r in THRESHOLDS}
    decided = decide(nothing)  # nothing measurable: binary words absent at 0.5, categories abstain
    assert decided["Big Nose"]["confidence"] == 0.5 and not decided["Big Nose"]["present"]
    assert decided["Hair Color"]["confidence"] == pytest.approx(0.25)
    assert decided["Face Shape"]["word"] == "Face Shape: unsure" and not decided["Face Shape"]["present"]
    probs = decide({r.measure: r.threshold for r in THRESHOLDS})["Face Shape"]["probabilities"]
    assert sum(probs.values()) == pytest.approx(1.0) and probs["Oval Face"] == pytest.approx(0.5)


def test_rules_must_keep_the_columns():
    with pytest.raises(ValueError):
        FaceParts(rules=THRESHOLDS[:3])


def test_arcface_template(demo):
    from s2w_toolkit.faces.align import align_face
    from s2w_toolkit.faces.detect import FaceDetector
    from s2w_toolkit.io.images import read_image

    template = arcface_template()
    detector = FaceDetector(landmarks="dlib68")
    faces = []
    for name in ("obama", "biden"):
        image = read_image(demo[name])
        faces.append(align_face(image, detector.find(image).landmarks, template))
    p = FaceParts().predict(np.stack(faces), template)
    assert tuple(p.maps.shape) == (2, 13, 112, 112)
    assert float(p.maps.min()) >= 0 and float(p.maps.max()) <= 1 and np.isfinite(p.values.numpy()).all()
    one = FaceParts().predict(faces[1], template)  # one (H, W, 3) face
    assert tuple(one.maps.shape) == (1, 13, 112, 112) and one.words[0] == p.words[1]


def test_registered_as_face_parts():
    from s2w_toolkit.registry import get_registry

    assert get_registry().attribute_model("face-parts") is FaceParts
    assert FaceParts.load().name == "face-parts"


# Constructed faces for the failures the recalibration fixed (issue 14): each paints one thing
# on a real demo face and checks the word that must (or must not) follow.


def _skin(face, masks):
    return np.median(face[masks["cheeks"] | masks["forehead"]], axis=0)


def test_a_bald_or_hidden_head_abstains_from_hair_colour(faces, points, prediction):
    face, p = faces[0].copy(), points[0]
    masks = binary_masks(p, face.shape[:2])
    noise = np.random.default_rng(0).normal(0, 3, (int(masks["hair"].sum()), 3))
    face[masks["hair"]] = np.clip(_skin(face, masks) + noise, 0, 255).astype(np.uint8)
    bald = FaceParts().predict(face[None])
    j = bald.index("Hair Color")
    assert bald.words[0][j] == "Hair Color: unsure" and not bald.present[0, j] and not bald.eligible[0, j]
    assert prediction.present[0, j] and prediction.eligible[0, j]  # the real photo's hair is read


def test_hair_mixed_with_a_bright_background_abstains(faces, points):
    face, p = faces[0].copy(), points[0]
    masks = binary_masks(p, face.shape[:2])
    ys, xs = np.nonzero(masks["hair"])
    face[ys, xs] = np.where((np.arange(len(ys)) % 2 == 0)[:, None], (15, 12, 10), (250, 250, 245))
    decided = decide(colour_measures(face, p, masks) | geometry_measures(p))["Hair Color"]
    assert decided["word"] == "Hair Color: unsure" and not decided["present"]


def test_textured_blond_hair_reads_blond(faces, points):
    face, p = faces[0].copy(), points[0]  # Obama, dark hair
    masks = binary_masks(p, face.shape[:2])
    noise = np.random.default_rng(1).normal(0, 12, (int(masks["hair"].sum()), 1))
    face[masks["hair"]] = np.clip(np.array([225, 195, 120]) + noise, 0, 255).astype(np.uint8)
    decided = decide(colour_measures(face, p, masks) | geometry_measures(p))["Hair Color"]
    assert decided["word"] == "Blond Hair" and decided["present"]


def test_lipstick_is_not_facial_hair(faces, points):
    face, p = faces[1].copy(), points[1]  # Biden: clean-shaven
    masks = binary_masks(p, face.shape[:2])
    before = measure(face, p, masks)
    face[masks["mouth"]] = (185, 25, 55)
    after = measure(face, p, masks)
    for key in ("lip_darkening", "jaw_darkening"):  # the lips are in no facial-hair region
        assert after[key] == pytest.approx(before[key], abs=1e-9), key
    assert after["lower_face_grain"] == pytest.approx(before["lower_face_grain"], rel=0.15)  # the blur's edge only
    words = decide(after)
    assert not (words["Beard"]["present"] or words["Mustache"]["present"] or words["5 o'Clock Shadow"]["present"])


def test_a_face_too_dark_to_read_abstains_from_colour_words(faces, points):
    dark = (faces[1].astype(np.float64) * 0.12).astype(np.uint8)
    p = FaceParts().predict(dark[None])
    row = {r["attribute"]: r for r in p.rows(0)}
    assert row["Hair Color"]["word"] == "Hair Color: unsure" and not row["Hair Color"]["present"]
    assert row["Beard"]["value"] is None and not row["Beard"]["present"]
    assert row["Bushy Eyebrows"]["value"] is None


def test_beard_needs_texture_as_well_as_darkness(faces, points):
    face, p = faces[1], points[1]
    masks = binary_masks(p, face.shape[:2])
    lower = masks["jaw"] | masks["upper_lip"]
    shaded = face.copy()
    shaded[lower] = (shaded[lower] * 0.5).astype(np.uint8)  # dark but smooth: a shadow
    shadow = measure(gaussian_smooth(shaded, lower), p, masks)
    assert shadow["jaw_darkening"] > 0.35 and not decide(shadow)["Beard"]["present"]


def gaussian_smooth(image, mask):
    from skimage.filters import gaussian

    smooth = gaussian(image, sigma=3, channel_axis=-1, preserve_range=True)
    out = image.copy()
    out[mask] = smooth[mask].astype(np.uint8)
    return out


def test_landmarks_on_aligned_faces_build_no_face_detector(faces, net):
    """The template gives the face box, so face-parts needs dlib's predictor, not its detector."""
    from s2w_toolkit.faces.detect import frontal_detector

    frontal_detector.cache_clear()
    aligned_landmarks(faces, net.template, "dlib68")
    FaceParts().predict(faces, net.template)
    assert frontal_detector.cache_info().currsize == 0
