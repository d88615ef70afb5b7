"""Neural attribute models: age-gender (converted ONNX, onnxruntime parity) and the official
30-head Sim2Word net (real checkpoint format), their maps, batching and the CLI."""

import json

import numpy as np
import pytest
import torch

from nets import randomise_batch_norm
from s2w_toolkit import load_face
from s2w_toolkit.attributes.age_gender import AgeGender
from s2w_toolkit.weights.packaged import age_gender_folder
from s2w_toolkit.cam import gradcam, linear_head_cams
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.attributes.sim2word_net import HEADS, Sim2WordAttributes
from s2w_toolkit.backbones.caffe_resnet import caffe_trunk_features
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.faces.frames import box_transform, faces_to_tensor, warp

ort = pytest.importorskip("onnxruntime", reason="the test extra installs onnxruntime (the parity reference)")


@pytest.fixture(scope="module")
def faces(net, demo):
    return np.stack([load_face(demo[n], net)[0] for n in ("obama", "obama2", "obama3", "biden")])


@pytest.fixture(scope="module")
def age_gender():
    return AgeGender.load()


def test_converted_models_match_onnxruntime_on_real_chips(age_gender, faces, net):
    x = faces_to_tensor(faces)
    for task, chip_net in (("gender", age_gender.gender), ("age", age_gender.age)):
        chips = warp(x, box_transform(net.template, chip_net.chip), chip_net.chip.size)
        inputs = ((chips - chip_net.means) * chip_net.scale).contiguous()
        session = ort.InferenceSession(str(age_gender_folder() / f"{task}-v1.onnx"), providers=["CPUExecutionProvider"])
        reference = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]
        with torch.no_grad():
            ours = chip_net.graph(inputs).numpy()
        assert np.abs(ours - reference).max() <= 1e-4, task


def test_obama_and_biden_are_male_and_biden_is_older(age_gender, faces, net):
    p = age_gender.predict(faces, net.template)
    assert [row[0] for row in p.words] == ["Male"] * 4
    ages = p.values[:, 1]
    assert ages[3] > ages[0] + 10  # Biden (b. 1942) photographed older than Obama (b. 1961)
    assert p.maps.shape == (4, 2, 150, 150) and p.maps.min() >= 0 and p.maps.max() <= 1


def _centroid(heat: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(heat.shape[0]), torch.arange(heat.shape[1]), indexing="ij")
    total = heat.sum()
    return torch.stack([(heat * xs).sum() / total, (heat * ys).sum() / total])


def test_maps_move_when_the_face_moves(age_gender, faces, net):
    """The same face placed 4 px left and 4 px lower (and its template with it): the
    networks see the same chips, so the maps must come back moved by exactly that much."""
    from dataclasses import replace

    shift = np.array([-4, 4])  # the 0.2-padded chips still fit in the 150 px face
    moved = np.roll(faces[:1], (shift[1], shift[0]), axis=(1, 2))
    template = replace(net.template, points=net.template.points + shift)
    before = age_gender.predict(faces[:1], net.template)
    after = age_gender.predict(moved, template)
    assert after.words == before.words
    for j in range(2):
        delta = _centroid(after.maps[0, j]) - _centroid(before.maps[0, j])
        assert torch.allclose(delta, torch.tensor(shift, dtype=delta.dtype), atol=0.75), (before.names[j], delta)
        rolled = torch.roll(before.maps[0, j], tuple(shift[::-1]), dims=(0, 1))
        assert (after.maps[0, j] - rolled)[20:-20, 20:-20].abs().max() < 0.1


def test_one_forward_pass_per_network_for_a_batch(age_gender, faces, net):
    calls = []
    hooks = [m.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
             for m in (age_gender.gender.graph, age_gender.age.graph)]
    try:
        age_gender.predict(faces, net.template)
    finally:
        for h in hooks:
            h.remove()
    assert calls == [4, 4]


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    torch.manual_seed(0)
    model = randomise_batch_norm(Sim2WordAttributes(), weight=(0.2, 0.6))
    with torch.no_grad():
        for head in model.heads:
            head.weight.mul_(20)  # confident heads, so that every class can win somewhere
    path = tmp_path_factory.mktemp("attr") / "Face-Attributes2-state.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_official_net_round_trip_30_heads_and_words(official, faces, net):
    model, path = official
    loaded = load_attributes("sim2word-resnet50", str(path), device="cpu")
    calls = []
    hook = loaded.conv1.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    p = loaded.predict(faces, net.template)
    hook.remove()
    assert calls == [4]  # 4 faces, 30 heads: one forward pass
    assert p.names == [h.name for h in HEADS] and p.maps.shape == (4, 30, 150, 150)
    chips = warp(faces_to_tensor(faces), box_transform(net.template, model.chip), model.chip.size)
    from s2w_toolkit.backbones.caffe_resnet import VGGFACE2_PIXELS
    with torch.no_grad():
        logits = model.logits(VGGFACE2_PIXELS.apply(chips))
    for j, (head, scores) in enumerate(zip(HEADS, logits)):
        predicted = scores.argmax(dim=1).tolist()
        assert [row[j] for row in p.words] == [head.words[c] for c in predicted]
        assert p.present[:, j].tolist() == [head.kind == "category" or c == 0 for c in predicted]
        assert torch.allclose(p.confidences[:, j], torch.softmax(scores, 1).max(1).values, atol=1e-5)


def test_official_net_cams_equal_autograd_gradcam(official, faces, net):
    model, _ = official
    chips = warp(faces_to_tensor(faces[:2]), box_transform(net.template, model.chip), model.chip.size)
    from s2w_toolkit.backbones.caffe_resnet import VGGFACE2_PIXELS
    features = caffe_trunk_features(model, VGGFACE2_PIXELS.apply(chips)).detach().requires_grad_(True)
    pooled = features.mean(dim=(2, 3))
    scores, rows = [], []
    for head in model.heads:
        logits = head(pooled)
        c = logits.argmax(dim=1)
        scores.append(logits.gather(1, c[:, None])[:, 0])
        rows.append(head.weight[c])
    by_autograd = gradcam(features, torch.stack(scores, dim=1))
    closed_form = linear_head_cams(features.detach(), torch.stack(rows, dim=1).detach())
    assert torch.allclose(by_autograd, closed_form, atol=1e-4)  # float32 sums in another order


def test_official_net_refuses_other_files(tmp_path, official):
    from s2w_toolkit.backbones.iresnet import IResNetBackbone

    other = tmp_path / "r18.pth"
    torch.save(IResNetBackbone.build("arcface-r18").state_dict(), other)
    with pytest.raises(CheckpointError, match="found no ResNet-50 body and no heads"):
        Sim2WordAttributes.load(str(other))
    with pytest.raises(CheckpointError, match="needs --attribute-weights"):
        Sim2WordAttributes.load(None)
    state = torch.load(official[1], weights_only=True)
    state["heads.3.weight"] = torch.zeros(2, 2048)
    state["heads.3.bias"] = torch.zeros(2)
    wrong = tmp_path / "wrong.pth"
    torch.save(state, wrong)
    with pytest.raises(CheckpointError, match=r"head 3 \(Bald\) has weight \(2, 2048\), expected \(3, 2048\)"):
        Sim2WordAttributes.load(str(wrong))


def test_cli_with_the_official_checkpoint(official, run_cli, demo, tmp_path):
    _, path = official
    result = run_cli("attributes", demo["biden"], "--attributes", "sim2word-resnet50", "--attribute-weights", path,
                     "--out", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report[0]["attributes"]) == 30
    assert (tmp_path / "attributes-biden.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "attributes-biden.json").read_text())
    assert [r["attribute"] for r in saved["attributes"]] == [h.name for h in HEADS]


def test_cli_table_and_unknown_model(run_cli, demo, tmp_path):
    result = run_cli("attributes", demo["obama"], "--attributes", "age-gender", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Gender" in result.stdout and "Male" in result.stdout
    bad = run_cli("attributes", demo["obama"], "--attributes", "no-such-model", "--out", tmp_path)
    assert bad.exit_code == 1 and "unknown attribute-model 'no-such-model'" in bad.output


def test_default_is_the_learned_models_and_face_geometry(run_cli, demo, tmp_path, net, faces):
    from s2w_toolkit.weights.registry_files import registry_file

    try:
        registry_file("face_landmarker.task"), registry_file("faceres.bin")
    except CheckpointError as exc:
        pytest.skip(str(exc))
    result = run_cli("attributes", demo["obama"], demo["biden"], "--out", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for entry in report:
        rows = {r["attribute"]: r for r in entry["attributes"]}
        assert list(rows)[:2] == ["Smiling", "Mouth Open"] and len(rows) == 22
        assert {r["model"] for r in rows.values()} == {"mediapipe", "faceres", "face-geometry (mesh)", "face-areas"}
        assert rows["Nose"]["word"].startswith("nose") and rows["Nose"]["present"]
        assert rows["Gender"]["word"] == "Male" and rows["Gender"]["model"] == "faceres"
    assert [entry["attributes"][7]["word"] for entry in report] == ["Middle Aged", "Senior"]  # Obama, Biden
    composite = load_attributes(None, None, "cpu")
    p = composite.predict(faces[:2], net.template)
    assert p.maps.shape == (2, 22, 150, 150) and p.eligible.shape == (2, 22)
    bad = run_cli("attributes", demo["obama"], "--attributes", "age-gender,face-parts",
                  "--attribute-weights", "face-parts=x.pth,nope=y.pth", "--out", tmp_path)
    assert bad.exit_code == 1 and "--attribute-weights names 'nope'" in bad.output


def test_without_the_fetched_files_the_default_falls_back_with_a_warning(monkeypatch, tmp_path, net, faces):
    monkeypatch.setenv("S2W_MODELS_DIR", str(tmp_path))  # nothing fetched there
    with pytest.warns(UserWarning, match=r"need their files .*s2w models fetch.*using age-gender,face-parts"):
        model = load_attributes(None, None, "cpu")
    assert model.name == "age-gender+face-parts+face-areas"
    with pytest.raises(CheckpointError, match="run `s2w models fetch`"):
        load_attributes("mediapipe", None, "cpu")  # named explicitly: no fallback
