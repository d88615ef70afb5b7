"""The ``mediapipe`` attribute model: MediaPipe's Face Landmarker as a torch chain (LiteRT parity on
the same crop, landmarks on the face, blendshapes that move with the face, gradients, batching),
its words and maps, the no-face error, and the mesh regions."""

import hashlib
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from s2w_toolkit import load_face
from s2w_toolkit.attributes.face_mesh import BLENDSHAPE_NAMES, LANDMARKS_SUBSET, MESH_SIZE, FaceMesh
from s2w_toolkit.attributes.mediapipe import WORDS, MediaPipeAttributes, measures
from s2w_toolkit.attributes.mesh_regions import CONNECTIONS, MESH_REGIONS, POLYGONS, mesh_region_masks
from s2w_toolkit.errors import CheckpointError, NoFaceError
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
from s2w_toolkit.faces.frames import faces_to_tensor
from s2w_toolkit.interfaces import FACE_REGIONS
from s2w_toolkit.weights.registry_files import registry_file

DEMOS = ("obama", "obama2", "obama3", "biden")


@pytest.fixture(scope="module")
def bundle():
    try:
        return registry_file("face_landmarker.task")
    except CheckpointError as exc:
        pytest.skip(f"MediaPipe's face_landmarker.task is not installed: {exc}")


@pytest.fixture(scope="module")
def model(bundle):
    return MediaPipeAttributes.load(str(bundle))


@pytest.fixture(scope="module")
def faces(net, demo):
    return np.stack([load_face(demo[n], net)[0] for n in DEMOS])


@pytest.fixture(scope="module")
def result(model, faces, net):
    return model.run(faces, net.template)


class LiteRT:
    """One TFLite net of the bundle in Google's interpreter, one face at a time."""

    def __init__(self, bundle, name):
        interpreter = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT is the parity reference")
        with zipfile.ZipFile(bundle) as z:
            self.net = interpreter.Interpreter(model_content=z.read(name))
        self.net.allocate_tensors()

    def __call__(self, x):
        self.net.set_tensor(self.net.get_input_details()[0]["index"], np.ascontiguousarray(x, np.float32))
        self.net.invoke()
        return [self.net.get_tensor(o["index"]) for o in self.net.get_output_details()]


def test_torch_chain_matches_litert_on_the_same_crop(bundle, result):
    mesh, blend = LiteRT(bundle, "face_landmarks_detector.tflite"), LiteRT(bundle, "face_blendshapes.tflite")
    for i in range(len(DEMOS)):
        points, presence_logit = mesh(result.crops[i:i + 1].numpy())[:2]
        points = points.reshape(478, 3)
        assert np.abs(result.crop_landmarks[i].numpy() - points).max() <= 1e-3  # px of the 256 crop
        assert abs(float(result.presence[i]) - float(torch.sigmoid(torch.tensor(presence_logit.item())))) <= 1e-5
        left, top, side = result.boxes[i].tolist()
        in_face = points[:, :2] * side / MESH_SIZE + np.array([left, top])  # MediaPipe's projection
        reference = blend(in_face[list(LANDMARKS_SUBSET)][None])[0].reshape(-1)
        assert np.abs(result.blendshapes[i].numpy() - reference).max() <= 1e-4


def test_detector_matches_litert(bundle, model, faces):
    detector = LiteRT(bundle, "face_detector.tflite")
    x = F.interpolate(faces_to_tensor(faces), size=(128, 128), mode="bilinear") / 127.5 - 1
    with torch.no_grad():
        ours = model.mesh.detector(x.permute(0, 2, 3, 1))
    for i in range(len(DEMOS)):
        for a, b in zip(ours, detector(x[i:i + 1].permute(0, 2, 3, 1).numpy())):
            assert np.abs(a[i:i + 1].numpy() - b).max() <= 1e-3


def test_detector_decoding_places_the_face(model, faces, net):
    """Anchors, decoding and weighted suppression: BlazeFace's keypoints (eyes, nose tip, mouth
    centre) land near dlib's on the demo faces (its keypoints are coarse: a few px at 150 px)."""
    box, score, keypoints = model.mesh.detect(faces_to_tensor(faces))
    dlib = aligned_landmarks(faces, net.template)
    reference = np.stack([dlib[:, 36:42].mean(1), dlib[:, 42:48].mean(1), dlib[:, 30], dlib[:, 48:60].mean(1)], 1)
    error = np.linalg.norm(keypoints[:, :4].numpy() - reference, axis=-1)
    assert error.max() <= 8.0 and error.mean() <= 4.0, error
    assert (score > 0.8).all()
    assert ((keypoints[:, :4] > box[:, None, :2]) & (keypoints[:, :4] < box[:, None, 2:])).all()


def test_subset_is_mediapipes_list():
    """kLandmarksSubsetIdxs as face_blendshapes_graph.cc writes it: ascending, the irises last."""
    assert len(LANDMARKS_SUBSET) == 146 and list(LANDMARKS_SUBSET) == sorted(set(LANDMARKS_SUBSET))
    assert LANDMARKS_SUBSET[:8] == (0, 1, 4, 5, 6, 7, 8, 10) and LANDMARKS_SUBSET[-10:] == tuple(range(468, 478))
    digest = hashlib.sha256(repr(LANDMARKS_SUBSET).encode()).hexdigest()[:16]
    assert digest == "695c4fcc379a4f75", digest
    assert len(BLENDSHAPE_NAMES) == 52 and BLENDSHAPE_NAMES[25] == "jawOpen"


def test_landmarks_land_on_the_face(result, faces, net):
    """Mesh points against dlib's 68 on the demo faces (150 px): nose tip (mesh 4, dlib 30), mouth
    corners (61/291, 48/54), outer eye corners (33/263, 36/45), chin (152, 8)."""
    dlib = aligned_landmarks(faces, net.template)
    mesh = result.landmarks[..., :2].numpy()
    for m, d, tolerance in (([4], [30], 3.0), ([61, 291], [48, 54], 3.0), ([33, 263], [36, 45], 3.0),
                            ([152], [8], 5.0)):
        distance = np.linalg.norm(mesh[:, m] - dlib[:, d], axis=-1)
        assert distance.max() <= tolerance, (m, distance)
    assert result.detected.all() and (result.presence > 0.99).all()


def _move(face, points, shifts, sigma):
    """The face with the content around each point moved by its shift (a smooth warp)."""
    x = faces_to_tensor(face)
    h, w = x.shape[2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    dx, dy = torch.zeros(h, w), torch.zeros(h, w)
    for (px, py), (sx, sy) in zip(points, shifts):
        g = torch.exp(-((xs - px - sx) ** 2 + (ys - py - sy) ** 2) / (2 * sigma ** 2))
        dx, dy = dx + sx * g, dy + sy * g
    grid = torch.stack([(2 * (xs - dx) + 1) / w - 1, (2 * (ys - dy) + 1) / h - 1], dim=-1)[None]
    out = F.grid_sample(x, grid, align_corners=False, padding_mode="border")
    return out[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def test_smiling_follows_the_mouth_corners(model, faces, result, net):
    smile = measures(result)["smile"]
    assert smile[0] > 0.8 and smile[2] < 0.2  # Obama's broad smile against his neutral face
    biden = faces[3]
    p = result.landmarks[3, :, :2].numpy()
    lifted = _move(biden, [p[61], p[291]], [(-3.5, -7.0), (3.5, -7.0)], 6.0)
    lowered = _move(biden, [p[61], p[291]], [(0.0, 7.0), (0.0, 7.0)], 6.0)
    pred = model.predict(np.stack([biden, lifted, lowered]), net.template)
    column = pred.index("Smiling")
    assert pred.values[1, column] > pred.values[0, column] + 0.5 and pred.present[1, column]
    assert not pred.present[0, column] and pred.values[2, column] <= pred.values[0, column] + 0.02


def test_brows_and_mouth_words(model, faces, result, net):
    p = result.landmarks[3, :, :2].numpy()
    brows = [p[i] for i in (105, 334, 66, 296, 70, 300)]
    raised = _move(faces[3], brows, [(0.0, -7.0)] * 6, 8.0)
    pred = model.predict(np.stack([faces[3], raised]), net.template)
    up = pred.values[:, pred.index("Brows Raised")]
    assert up[1] > up[0] + 0.3
    words = model.predict(faces, net.template)
    open_mouth = words.present[:, words.index("Mouth Open")].tolist()
    # Obama open-mouthed twice, then slightly parted lips (obama3 is faces-dev's obama/4, labelled open:
    # gap 0.058 against 0.033); Biden's closed lips (0.006)
    assert open_mouth == [True, True, True, False]


def test_gradients_reach_the_pixels_where_the_action_is(model, faces, net):
    """Blendshapes are differentiable in the aligned face's pixels; the gradient is diffuse (the
    mesh net is global) but densest on the part: smile on the mouth, blink on the eyes."""
    x = faces_to_tensor(faces[:2]).requires_grad_(True)
    out = model.mesh(x, net.template)
    masks = mesh_region_masks(out.landmarks.detach(), (150, 150), ["face", "mouth", "eyes"])
    for target, part in ((("mouthSmileLeft", "mouthSmileRight"), 1), (("eyeBlinkLeft", "eyeBlinkRight"), 2)):
        x.grad = None
        sum(out.blendshape(name) for name in target).sum().backward(retain_graph=True)
        grad = x.grad.abs().sum(dim=1)
        assert torch.isfinite(grad).all() and (grad.flatten(1).sum(1) > 0).all()
        density = [(grad * masks[:, k]).flatten(1).sum(1) / masks[:, k].flatten(1).sum(1) for k in (0, part)]
        assert (density[1] > 1.5 * density[0]).all(), (target, density)


def test_a_batch_equals_single_calls(model, faces, net):
    batch = model.predict(faces, net.template)
    singles = [model.predict(face, net.template) for face in faces]
    for i, single in enumerate(singles):
        assert batch.words[i] == single.words[0] and batch.present[i].tolist() == single.present[0].tolist()
        assert torch.allclose(batch.values[i], single.values[0], atol=1e-4)
        assert torch.allclose(batch.maps[i], single.maps[0], atol=1e-4)


def test_a_face_the_mesh_cannot_place_abstains_and_no_face_at_all_is_a_one_line_error(model, faces, net):
    grey = np.full_like(faces[0], 128)
    noise = np.random.default_rng(0).integers(0, 256, faces[0].shape, dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"no face in images 1, 3 of the batch of 4 .*: its words abstain"):
        p = model.predict(np.stack([faces[0], grey, faces[1], noise]), net.template)
    assert not p.present[[1, 3]].any() and torch.isnan(p.values[[1, 3]]).all() and float(p.maps[[1, 3]].max()) == 0
    assert torch.isfinite(p.values[[0, 2]]).all() and float(p.maps[[0, 2]].max()) > 0.5
    alone = model.predict(faces[0], net.template)  # the placed faces read as they read alone
    assert torch.allclose(p.values[0], alone.values[0], atol=1e-4)
    with pytest.raises(NoFaceError, match="no face in image 0 ") as exc:
        model.predict(grey, net.template)
    assert "\n" not in str(exc.value)
    with pytest.raises(NoFaceError, match="images 0, 1 of the batch of 2"):
        model.run(np.stack([grey, noise]), net.template)


def test_prediction_words_regions_and_maps(model, faces, net):
    p = model.predict(faces, net.template)
    assert p.names == [w.name for w in WORDS] and p.kinds == ["binary"] * len(WORDS)
    assert p.maps.shape == (4, len(WORDS), 150, 150) and p.maps.min() >= 0 and p.maps.max() <= 1
    assert p.thresholds == [w.threshold for w in WORDS] and p.models == ["mediapipe"] * len(WORDS)
    regions = model.word_regions()
    assert set(regions) == set(model.attributes)
    assert all(r and set(r) <= set(FACE_REGIONS) for r in regions.values())
    assert regions["Smiling"] == ("mouth", "cheeks") and regions["Eyes Closed"] == ("eyes",)
    dlib = aligned_landmarks(faces, net.template)
    for column, parts in (("Smiling", [range(48, 60)]), ("Eyes Closed", [range(36, 42), range(42, 48)]),
                          ("Brows Raised", [range(17, 22), range(22, 27)]), ("Mouth Open", [range(60, 68)])):
        heat = p.maps[:, p.index(column)]
        for i in range(4):  # each word's map covers the centre of dlib's points of its part(s)
            for points in parts:
                x, y = dlib[i, list(points)].mean(axis=0).round().astype(int)
                assert heat[i, y - 1:y + 2, x - 1:x + 2].max() > 0.5, (column, i)


def test_mesh_regions_follow_mediapipes_connections():
    for name in ("lips", "lips_inner", "left_eye", "right_eye", "face_oval", "left_iris", "right_iris"):
        (loop,) = POLYGONS[name]
        edges = {frozenset(e) for e in zip(loop, loop[1:] + loop[:1])}
        key = "lips" if name.startswith("lips") else name
        assert edges <= {frozenset(e) for e in CONNECTIONS[key]}, name
    for name in ("left_eyebrow", "right_eyebrow"):
        assert set(POLYGONS[name][0]) == {i for e in CONNECTIONS[name] for i in e}
    assert {"eyes", "eyebrows", "nose", "mouth", "cheeks", "jaw", "forehead"} <= set(MESH_REGIONS)
    with pytest.raises(KeyError, match="unknown mesh region"):
        mesh_region_masks(torch.zeros(478, 2), (4, 4), ["hair"])


def test_mesh_region_masks_in_the_aligned_frame(result, faces, net):
    masks = mesh_region_masks(result.landmarks, (150, 150), ["eyes", "nose", "mouth", "forehead"], blur=1.0)
    assert masks.shape == (4, 4, 150, 150) and masks.dtype == torch.float32
    dlib = aligned_landmarks(faces, net.template)
    for i in range(4):
        for j, points in ((0, range(36, 42)), (0, range(42, 48)), (1, [30]), (2, [51]), (2, range(48, 60))):
            x, y = dlib[i, list(points)].mean(axis=0).round().astype(int)
            assert masks[i, j, y, x] > 0.5, (i, j, points)
        assert masks[i, 3, : int(dlib[i, 17:27, 1].min()) - 2].sum() > 100  # forehead: above the brows


def test_missing_or_wrong_bundle_is_a_checkpoint_error(tmp_path):
    bad = tmp_path / "face_landmarker.task"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a MediaPipe face_landmarker.task bundle"):
        FaceMesh.load(bad)
