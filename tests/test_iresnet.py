"""insightface IResNet loaders: arcface_torch state dicts, strict loading, clear refusals."""

import json
import pickle

import numpy as np
import pytest
import torch

from nets import randomise_batch_norm
from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.iresnet import IResNetBackbone
from s2w_toolkit.errors import CheckpointError


def random_iresnet(name: str, seed: int = 0) -> IResNetBackbone:
    torch.manual_seed(seed)
    return randomise_batch_norm(IResNetBackbone.build(name))


@pytest.fixture(scope="module")
def r18_file(tmp_path_factory):
    net = random_iresnet("arcface-r18")
    path = tmp_path_factory.mktemp("w") / "r18.pth"
    torch.save(net.state_dict(), path)  # what arcface_torch's training writes
    return net, path


def test_state_dict_names_match_arcface_torch():
    state = IResNetBackbone.build("arcface-r50").state_dict()
    assert state["fc.weight"].shape == (512, 512 * 7 * 7)
    assert state["features.weight"].shape == (512,)
    assert state["layer3.13.prelu.weight"].shape == (256,)
    assert state["layer1.0.downsample.0.weight"].shape == (64, 64, 1, 1)
    assert "layer3.14.bn1.weight" not in state


def test_round_trip_through_the_loader(r18_file):
    net, path = r18_file
    loaded = load_backbone("arcface-r18", weights=str(path), device="cpu")
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=1e-5)
    # and the prefix that DataParallel adds is accepted too
    wrapped = path.with_name("wrapped.pth")
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, wrapped)
    with torch.no_grad():
        assert torch.allclose(load_backbone("cosface-r18", weights=str(wrapped))(x), net(x), atol=1e-5)


def test_wrong_depth_says_what_was_expected_and_found(r18_file):
    _, path = r18_file
    with pytest.raises(CheckpointError, match=r"expected arcface-r50 \(iresnet r50.*found an iresnet r18"):
        load_backbone("arcface-r50", weights=str(path))


def test_truncated_and_foreign_files(tmp_path, r18_file):
    _, path = r18_file
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="expected an arcface_torch .pth state dict for arcface-r18, "
                                              "but truncated or corrupt"):
        load_backbone("arcface-r18", weights=str(cut))
    evil = tmp_path / "evil.pth"
    torch.save({"x": CheckpointError("arbitrary object")}, evil)  # needs full unpickling
    with pytest.raises(CheckpointError, match="holds pickled objects other than tensors, which are never unpickled"):
        load_backbone("arcface-r18", weights=str(evil))
    pkl = tmp_path / "weights.pkl"
    pkl.write_bytes(pickle.dumps({"conv1.weight": np.zeros(3, np.float32)}, protocol=2))
    with pytest.raises(CheckpointError, match="weights.pkl: expected an arcface_torch .pth state dict for "
                                              "arcface-r18, found a pickle"):
        load_backbone("arcface-r18", weights=str(pkl))
    with pytest.raises(CheckpointError, match="needs --weights"):
        load_backbone("arcface-r18")


def test_verify_end_to_end_with_arcface_alignment(run_cli, r18_file, demo):
    _, path = r18_file
    result = run_cli("verify", "--backbone", "arcface-r18", "--weights", path, demo["obama"], demo["biden"], "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backbone"] == "arcface-r18"
    from s2w_toolkit.pipeline import load_pair

    reference, _ = r18_file  # the saved network itself, fed by hand: RGB (x / 255 - 0.5) / 0.5, NCHW
    pair = load_pair(demo["obama"], demo["biden"], reference)

    def embed(net, face):
        x = (torch.from_numpy(face.astype(np.float32)).permute(2, 0, 1)[None] / 255.0 - 0.5) / 0.5
        return torch.nn.functional.normalize(net.eval()(x), dim=1)

    with torch.no_grad():
        expected = float((embed(reference, pair.image_a) * embed(reference, pair.image_b)).sum())
        other = random_iresnet("arcface-r18", seed=1)
        other_cos = float((embed(other, pair.image_a) * embed(other, pair.image_b)).sum())
    assert data["similarity"] == pytest.approx(expected, abs=1e-5)
    assert abs(other_cos - expected) > 1e-3  # other weights would not pass: the check sees the loaded weights
    bad = run_cli("verify", "--backbone", "arcface-r34", "--weights", path, demo["obama"], demo["biden"])
    assert bad.exit_code == 1 and "found an iresnet r18" in bad.stderr and "Traceback" not in bad.stderr


def test_arcface_alignment_puts_the_eyes_on_the_template(net, demo):
    from s2w_toolkit import load_face
    from s2w_toolkit.faces.detect import FaceDetector

    arc = IResNetBackbone.build("arcface-r18")
    face, _ = load_face(demo["obama"], arc)
    assert face.shape == (112, 112, 3)
    found = FaceDetector(landmarks="dlib68", upsample=2).detect(face)  # landmarks on the aligned crop
    assert found, "the aligned crop should still hold a detectable face"
    eyes = arc.template.source_points(found[0].landmarks)[:2]
    assert abs(eyes - arc.template.points[:2]).max() < 6.0
