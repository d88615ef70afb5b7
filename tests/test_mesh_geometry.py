"""``face-geometry`` on MediaPipe's mesh: the 68 points read off the mesh lie near dlib's, the
measures stay close, the evidence is drawn from the mesh's outlines, and the choice of landmarks
is stated and honoured (skipped where the mesh file is not installed).

Tolerances, on the four demo faces (which are four of faces-dev's photos, on which the 478->68
table was fitted: in-sample; the held-out figures are in ``mesh_landmarks``' docstring): mean
distance per face and group in inter-ocular distances (IOD) at most jaw 0.10, brows 0.05, nose
0.04, eyes 0.03, lips 0.05 (measured at most 0.082, 0.031, 0.024, 0.020, 0.040), every point
within 0.15 IOD (0.131).
"""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit.errors import CheckpointError, NoFaceError

GROUP_TOLERANCE = {"jaw": 0.10, "brows": 0.05, "nose": 0.04, "eyes": 0.03, "lips": 0.05}
POINT_TOLERANCE = 0.15
#: |mesh - dlib| per measure on each demo face (measured at most .018, .12, .070, .031, .028, .032, 4.1 degrees).
MEASURE_TOLERANCE = {"nose_size": 0.03, "nose_pointiness": 0.15, "lip_thickness": 0.08, "eye_aspect": 0.04,
                     "brow_arch": 0.04, "face_ratio": 0.05, "jaw_angle": 6.0}


def _mesh_installed() -> bool:
    from s2w_toolkit.weights.registry_files import registry_file

    try:
        registry_file("face_landmarker.task")
    except CheckpointError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _mesh_installed(),
                                reason="MediaPipe's face_landmarker.task is not installed (`s2w models fetch`)")


@pytest.fixture(scope="module")
def faces(net, demo):
    from s2w_toolkit import load_face

    return np.stack([load_face(demo[name], net)[0] for name in ("obama", "obama2", "obama3", "biden")])


@pytest.fixture(scope="module")
def dlib_points(faces, net):
    from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks

    return aligned_landmarks(faces, net.template, "dlib68")


@pytest.fixture(scope="module")
def found(faces, net):
    from s2w_toolkit.attributes.mesh_landmarks import load_mesh, run_mesh

    return run_mesh(load_mesh("mesh"), faces, net.template)


@pytest.fixture(scope="module")
def mesh_points(found):
    from s2w_toolkit.attributes.mesh_landmarks import dlib68_from_mesh

    return dlib68_from_mesh(found.points)


def test_the_table_is_a_mirror_symmetric_weighted_mean_of_mesh_points():
    from s2w_toolkit.attributes.mesh_landmarks import MESH_TO_DLIB68, mapping_matrix

    assert len(MESH_TO_DLIB68) == 68 and np.allclose(mapping_matrix().sum(axis=1), 1.0)
    assert all(0 <= i < 468 and w > 0 for terms in MESH_TO_DLIB68 for i, w in terms)  # no iris point
    for k, twin in ((0, 16), (4, 12), (17, 26), (19, 24), (31, 35), (36, 45), (37, 44), (40, 47), (48, 54), (59, 55)):
        assert sorted(w for _, w in MESH_TO_DLIB68[k]) == sorted(w for _, w in MESH_TO_DLIB68[twin])


def test_mesh_derived_points_lie_near_dlibs(found, mesh_points, dlib_points):
    from s2w_toolkit.attributes.mesh_landmarks import group_means, landmark_distances

    assert found.placed.all()
    distances = landmark_distances(mesh_points, dlib_points)
    for i, face in enumerate(distances):
        means = group_means(face[None])
        assert all(means[g] <= tol for g, tol in GROUP_TOLERANCE.items()), (i, means)
    assert distances.max() <= POINT_TOLERANCE, distances.max()


def test_geometry_measures_from_mesh_points_are_close_to_dlibs(mesh_points, dlib_points):
    from s2w_toolkit.attributes.face_parts import geometry_measures

    for i, (ours, theirs) in enumerate(zip(mesh_points, dlib_points)):
        a, b = geometry_measures(ours), geometry_measures(theirs)
        off = {k: abs(a[k] - b[k]) for k in MEASURE_TOLERANCE}
        assert all(off[k] <= tol for k, tol in MEASURE_TOLERANCE.items()), (i, off)


def test_auto_takes_the_mesh_and_dlib68_takes_dlib(faces, net, mesh_points):
    from s2w_toolkit.attributes.face_geometry import FaceGeometry
    from s2w_toolkit.attributes.face_parts import FaceParts, geometry_measures

    auto, dlib = FaceGeometry(), FaceGeometry(landmarks="dlib68")
    assert (auto.source, dlib.source, dlib.mesh) == ("mesh", "dlib68", None)
    by_mesh, by_dlib = auto.predict(faces, net.template), dlib.predict(faces, net.template)
    assert set(by_mesh.models) == {"face-geometry (mesh)"} and auto.sources == ["mesh"] * 4
    assert set(by_dlib.models) == {"face-geometry (dlib68)"} and dlib.sources == ["dlib68"] * 4
    expected = [geometry_measures(p)["nose_size"] for p in mesh_points]  # the values are the mesh's
    assert np.allclose(by_mesh.values[:, by_mesh.index("Big Nose")].numpy(), expected, atol=1e-5)
    parts = FaceParts().predict(faces, net.template)  # dlib68 is face-parts' own landmarks, as before
    for name in by_dlib.names:
        assert np.allclose(by_dlib.values[:, by_dlib.index(name)], parts.values[:, parts.index(name)], equal_nan=True)


def test_evidence_maps_are_the_mesh_outlines(faces, net, found):
    from s2w_toolkit.attributes.face_geometry import FaceGeometry
    from s2w_toolkit.attributes.mesh_regions import mesh_region_masks

    p = FaceGeometry(landmarks="mesh").predict(faces, net.template)
    masks = mesh_region_masks(found.points, faces.shape[1:3], ["nose", "lips", "lips_inner", "eyes", "eyebrows"])
    nose, lips, inner, eyes, brows = (masks[:, j].numpy() > 0.5 for j in range(5))
    def inside(word, region):  # share of the map's mass in the region, and of the region the map lights
        m = p.maps[:, p.index(word)].numpy()
        lit = ((m > 0.5) & region).sum((1, 2)) / np.maximum(region.sum((1, 2)), 1)
        return (m * region).sum((1, 2)) / m.sum((1, 2)), lit

    # dlib's regions on these faces: Big Nose 0.86-0.95 of the mass in the mesh nose but lighting 0.32-0.51 of
    # it; Narrow Eyes 0.54-0.57; Arched Eyebrows 0.36-0.48. Thin outlines lose mass to the edge blur.
    for word, region, mass, cover in (("Big Nose", nose, 0.9, 0.95), ("Pointy Nose", nose, 0.9, 0.0),
                                      ("Big Lips", lips & ~inner, 0.8, 0.0), ("Narrow Eyes", eyes, 0.7, 0.9),
                                      ("Arched Eyebrows", brows, 0.75, 0.95)):
        share, lit = inside(word, region)
        assert (share >= mass).all() and (lit >= cover).all(), (word, share, lit)
    assert (inside("Big Lips", inner)[0] <= 0.1).all()  # the lips' flesh, not the mouth's opening
    face_shape = p.maps[:, p.index("Face Shape")].numpy()
    assert (face_shape[:, :40].sum((1, 2)) <= 0.01 * face_shape.sum((1, 2))).all()  # from the eyes (row ~47) down


def test_a_face_the_mesh_cannot_place(faces, net):
    from s2w_toolkit.attributes.face_geometry import FaceGeometry

    batch = np.stack([faces[0], np.full_like(faces[0], 128)])
    model = FaceGeometry()
    with pytest.warns(UserWarning, match=r"places no face in image\(s\) 1 of 2; dlib's 68 landmarks"):
        p = model.predict(batch, net.template)
    assert model.sources == ["mesh", "dlib68"] and set(p.models) == {"face-geometry (mesh; dlib68 for face 1)"}
    alone = FaceGeometry(landmarks="dlib68").predict(batch[1:], net.template)
    assert np.allclose(p.values[1], alone.values[0], equal_nan=True)
    with pytest.raises(NoFaceError) as error:
        FaceGeometry(landmarks="mesh").predict(batch, net.template)
    assert "image(s) 1 of the batch of 2" in str(error.value) and "\n" not in str(error.value)


def test_missing_or_damaged_mesh_file(tmp_path, monkeypatch, recwarn):
    from s2w_toolkit.attributes.face_geometry import FaceGeometry

    monkeypatch.setenv("S2W_MODELS_DIR", str(tmp_path))
    for make in (lambda: FaceGeometry(landmarks="mesh"), lambda: FaceGeometry.load(landmarks="mesh")):
        with pytest.raises(CheckpointError) as error:
            make()
        message = str(error.value)
        assert "\n" not in message and "face_landmarker.task is not installed" in message
        assert "s2w models fetch" in message
    assert FaceGeometry().source == "dlib68" and not recwarn.list  # auto: quietly dlib's points
    (tmp_path / "face_landmarker.task").write_bytes(b"not a bundle")
    with pytest.warns(UserWarning, match="truncated"):
        assert FaceGeometry().source == "dlib68"  # present but damaged: said, then dlib's points
    with pytest.raises(ValueError, match="landmarks must be one of auto, mesh, dlib68"):
        FaceGeometry(landmarks="mediapipe")
