"""``s2w attributes train`` and the ``linear-heads`` model it writes.

The generated attribute is a moustache drawn on augmented copies of the demo faces: half of
the faces get it, whichever photo they come from, so a head can only score by seeing it. The
held-out faces come from a photo the heads never saw.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.transform import AffineTransform, warp

from s2w_toolkit.cam import gradcam
from s2w_toolkit.attributes.labels import read_labels
from s2w_toolkit.attributes.linear_heads import LinearHeads, is_heads_file, spatial_features
from s2w_toolkit.errors import CheckpointError

FACES_DEV = Path(__file__).resolve().parents[2] / "shared" / "faces-dev"
#: Where the moustache goes in dlib-resnet's 150 px chip: under the nose base (74, 88).
MOUSTACHE = (74, 97, 17, 4)  # centre x, centre y, half width, half height
#: The accuracy the heads must reach on held-out faces of the generated moustache.
MOUSTACHE_ACCURACY = 0.9


def _moustache_mask(size: int = 150) -> np.ndarray:
    cx, cy, a, b = MOUSTACHE
    ys, xs = np.mgrid[0:size, 0:size]
    return ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1


def _variant(face: np.ndarray, rng: np.random.Generator, moustache: bool) -> np.ndarray:
    img = face.astype(np.float64) / 255
    if moustache:
        shade = np.array([0.12, 0.09, 0.07]) + rng.uniform(-0.03, 0.03)
        img[_moustache_mask()] = shade
    tform = AffineTransform(scale=rng.uniform(0.96, 1.04), rotation=np.deg2rad(rng.uniform(-4, 4)),
                            translation=rng.uniform(-3, 3, 2))
    centre = AffineTransform(translation=(-75, -75))
    img = warp(img, (centre + tform + centre.inverse).inverse, mode="edge")
    img = img * rng.uniform(0.8, 1.15) + rng.uniform(-0.06, 0.06) + rng.normal(0, 0.02, img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def _make_set(base: dict[str, np.ndarray], folder: Path, per_face: int, seed: int, shuffle_labels: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for name, face in base.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        drawn = rng.permutation(np.arange(per_face) % 2 == 0)
        for i, has in enumerate(drawn):
            Image.fromarray(_variant(face, rng, bool(has))).save(folder / name / f"{i}.png")
            label = bool(rng.integers(2)) if shuffle_labels else bool(has)
            rows.append((f"{name}/{i}.png", "yes" if label else "no"))
    labels = folder / "labels.csv"
    with open(labels, "w", newline="") as handle:
        csv.writer(handle).writerows([("face", "mustache"), *rows])
    return labels


@pytest.fixture(scope="module")
def base_faces(net, demo):
    from s2w_toolkit import load_face

    return {name: load_face(path, net)[0] for name, path in demo.items()}


@pytest.fixture(scope="module")
def trained(base_faces, tmp_path_factory):
    from click.testing import CliRunner

    from s2w_toolkit.cli.main import cli

    folder = tmp_path_factory.mktemp("moustache")
    labels = _make_set(base_faces, folder, per_face=24, seed=0)
    out = folder / "heads.pt"
    result = CliRunner().invoke(cli, ["attributes", "train", "--labels", str(labels), "--aligned", "--holdout", "0.25",
                                      "--out", str(out), "--device", "cpu"], catch_exceptions=False)
    return result, out, folder


def test_train_reports_held_out_accuracy_and_writes_plain_tensors(trained):
    result, out, _ = trained
    assert result.exit_code == 0, result.output
    assert "Mustache" in result.output and "held" in result.output and out.is_file()
    assert is_heads_file(out)
    data = torch.load(out, weights_only=True)  # plain tensors: loads without unpickling objects
    assert all(isinstance(v, torch.Tensor) for v in data.values())
    model = LinearHeads.load(str(out))
    report = model.meta["accuracy"]["Mustache"]
    assert report["held_out"] == 24  # one whole photo's 24 variants
    assert report["accuracy"] >= MOUSTACHE_ACCURACY, report


def test_heads_find_the_moustache_on_new_faces_and_their_map_points_at_it(trained, base_faces, tmp_path):
    _, out, _ = trained
    model = LinearHeads.load(str(out))
    rng = np.random.default_rng(7)
    truth = np.arange(40) % 2 == 0
    names = list(base_faces)
    faces = np.stack([_variant(base_faces[names[i % 4]], rng, bool(t)) for i, t in enumerate(truth)])
    p = model.predict(faces, model.backbone.template)
    present = p.present[:, 0].numpy()
    assert np.mean(present == truth) >= MOUSTACHE_ACCURACY
    # where the head looks: inside the drawn region the map is higher than on the rest of the face
    inside = _moustache_mask()
    maps = p.maps[truth & present, 0].numpy()
    ratio = maps[:, inside].mean() / maps[:, ~inside].mean()
    assert ratio > 2.0, ratio  # 2.6 measured; 1.4 without subtracting the reference map


def test_labels_that_do_not_follow_the_drawing_are_not_learnt(base_faces, tmp_path, run_cli):
    """The control: the same images, labels at random; held-out accuracy falls to chance."""
    labels = _make_set(base_faces, tmp_path, per_face=24, seed=0, shuffle_labels=True)
    out = tmp_path / "heads.pt"
    result = run_cli("attributes", "train", "--labels", labels, "--aligned", "--holdout", "0.25", "--out", out,
                     "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert LinearHeads.load(str(out)).meta["accuracy"]["Mustache"]["accuracy"] < 0.75


def test_maps_are_the_closed_form_gradcam_of_each_head(trained, base_faces):
    _, out, _ = trained
    model = LinearHeads.load(str(out))
    faces = np.stack(list(base_faces.values()))
    x = model.backbone.preprocess(faces)
    centred = (spatial_features(model.backbone, x) - model.reference).detach().requires_grad_(True)
    scores = model.logits((centred + model.reference).mean(dim=(2, 3)))[0]
    chosen = scores.argmax(dim=1)
    by_grad = gradcam(centred, scores.gather(1, chosen[:, None]))
    small = model.predict(faces, model.backbone.template)
    resized = torch.nn.functional.interpolate(by_grad, size=(150, 150), mode="bilinear", align_corners=False)
    assert torch.allclose(small.maps, resized.clamp(0, 1), atol=1e-5)


def test_the_attributes_command_picks_the_heads_from_the_file(trained, demo, tmp_path, run_cli):
    _, out, _ = trained
    result = run_cli("attributes", demo["obama"], "--attribute-weights", out, "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "linear-heads" in result.output and "Mustache" in result.output


def test_sim2word_speaks_with_trained_heads(trained, demo, tmp_path, run_cli):
    _, out, _ = trained
    result = run_cli("explain", demo["obama"], demo["biden"], "--attribute-weights", out, "-o", "stability=0",
                     "-o", "placements=8", "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    import json

    data = json.loads((tmp_path / "sim2word.json").read_text())
    assert "Mustache" in json.dumps(data)


def test_heads_refuse_another_network_and_damaged_files(trained, tmp_path):
    _, out, _ = trained
    data = torch.load(out, weights_only=True)
    data["backbone.fingerprint"] = data["backbone.fingerprint"] + 0.1
    other = tmp_path / "other.pt"
    torch.save(data, other)
    with pytest.raises(CheckpointError, match="another dlib-resnet network"):
        LinearHeads.load(str(other))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(out.read_bytes()[: os.path.getsize(out) // 2])
    with pytest.raises(CheckpointError):
        LinearHeads.load(str(cut))
    plain = tmp_path / "plain.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, plain)
    assert not is_heads_file(plain)
    with pytest.raises(CheckpointError, match="s2w attributes train"):
        LinearHeads.load(str(plain))


def test_bad_labels_are_one_line_errors(tmp_path, run_cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,smiling\na.jpg,yes\n")
    result = run_cli("attributes", "train", "--labels", bad, "--out", tmp_path / "h.pt")
    assert result.exit_code == 1 and "'face' column" in result.output
    result = run_cli("attributes", "train", "--labels", tmp_path / "missing.csv", "--out", tmp_path / "h.pt")
    assert result.exit_code == 1 and "no such labels file" in result.output


def test_celeba_layout_reads_binary_attributes_and_the_official_split(tmp_path):
    (tmp_path / "list_attr_celeba.txt").write_text(
        "3\nBig_Nose Smiling 5_o_Clock_Shadow\n000001.jpg 1 -1 -1\n000002.jpg -1 1 1\n000003.jpg -1 -1 1\n")
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n")
    table = read_labels(tmp_path / "list_attr_celeba.txt")
    assert [c.name for c in table.columns] == ["Big Nose", "Smiling", "5 o'Clock Shadow"]
    assert {c.kind for c in table.columns} == {"binary"}
    assert table.values[:, 0].tolist() == [0, 1, 1]  # class 0 is present
    from s2w_toolkit.attributes.training import held_out_split

    assert held_out_split(table, np.arange(3), 0.2, 0).tolist() == [False, False, True]


@pytest.mark.skipif(not (FACES_DEV / "attributes.csv").is_file(), reason="needs ../shared/faces-dev")
def test_train_on_the_hand_labelled_dev_faces(tmp_path, run_cli):
    out = tmp_path / "dev.pt"
    result = run_cli("attributes", "train", "--labels", FACES_DEV / "attributes.csv", "--holdout", "0.3",
                     "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    accuracy = LinearHeads.load(str(out)).meta["accuracy"]
    assert accuracy["Eyeglasses"]["skipped"] and accuracy["Hat"]["skipped"]  # one class only on this set
    # 8 held-out faces of other people: a weak signal; gender must at least match the majority class
    assert accuracy["Gender"]["held_out"] >= 6
    assert accuracy["Gender"]["accuracy"] >= accuracy["Gender"]["majority"]


def test_fit_head_works_on_raw_features_of_any_scale():
    """The standardisation is folded into the head: a signal in a column 1e6 times smaller than
    another's noise is still found, and the head reads raw features."""
    from s2w_toolkit.attributes.training import fit_head, predict_head

    rng = np.random.default_rng(0)

    def draw(n):
        z = rng.normal(size=(n, 3))
        y = (z[:, 1] > 0).astype(int)
        return z * np.array([1e3, 1e-3, 1.0]), y

    x, y = draw(200)
    fit = fit_head(x, y, classes=2, groups=np.arange(200), seed=0)
    fresh, truth = draw(200)
    assert np.mean(predict_head(fit, fresh) == truth) >= 0.95
