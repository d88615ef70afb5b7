"""VGGFace2 ResNet-50 / SENet-50 from Python-2-era caffe-converted pickles, read safely."""

import json
import pickle
import pickletools
import struct

import numpy as np
import pytest
import torch

from nets import randomise_batch_norm
from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.caffe_resnet import BGR_MEAN
from s2w_toolkit.backbones.vggface2 import VGGFace2Backbone
from s2w_toolkit.errors import CheckpointError


class Py2Pickler(pickle._Pickler):
    """Writes text and bytes the way Python 2 wrote ``str`` (BINSTRING), as the published files do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    def save_text(self, obj: str) -> None:
        self.save_py2_str(obj.encode("latin1"))

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_text


def write_py2_pkl(path, net: torch.nn.Module) -> None:
    arrays = {k: v.numpy() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(arrays)
    blob = path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(blob)


def random_vggface2(name: str, num_classes: int = 10, seed: int = 0) -> VGGFace2Backbone:
    torch.manual_seed(seed)
    net = type(VGGFace2Backbone.build(name))(num_classes=num_classes)
    return randomise_batch_norm(net, weight=(0.2, 0.6))


@pytest.fixture(scope="module", params=["vggface2-resnet50", "vggface2-senet50_ft"])
def pkl(request, tmp_path_factory):
    net = random_vggface2(request.param)
    path = tmp_path_factory.mktemp("vgg") / f"{request.param}.pkl"
    write_py2_pkl(path, net)
    return request.param, net, path


def test_file_is_a_python2_style_pickle(pkl):
    _, _, path = pkl
    ops = set()
    with open(path, "rb") as f:
        for op, _, _ in pickletools.genops(f):
            ops.add(op.name)
            if len(ops) > 12:
                break
    assert "SHORT_BINSTRING" in ops and "BINUNICODE" not in ops
    assert b"numpy.core.multiarray" in path.read_bytes()[:4096]


def test_round_trip_through_the_loader(pkl):
    name, net, path = pkl
    loaded = load_backbone(name, weights=str(path), device="cpu")
    x = torch.randn(2, 3, 224, 224) * 50
    with torch.no_grad():
        expected, got = net(x), loaded(x)
        assert got.shape == (2, 2048)
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max())
        assert torch.allclose(loaded.logits(x), net.fc(expected), rtol=1e-4, atol=1e-3)
    assert loaded.num_classes == 10 and loaded.describe()["num_classes"] == 10


def test_caffe_style_strides_and_ceil_mode_pool():
    net = VGGFace2Backbone.build("vggface2-resnet50").eval()
    block = net.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    sizes = {}
    net.layer1.register_forward_hook(lambda m, i, o: sizes.update(layer1=o.shape[-1]))
    with torch.no_grad():
        net(torch.zeros(1, 3, 224, 224))
    assert sizes["layer1"] == 56  # conv1 gives 112; ceil((112 - 3) / 2) + 1 = 56, floor would give 55


def test_squeeze_excite_gates_the_residual_branch():
    net = random_vggface2("vggface2-senet50")
    block = net.layer4[2]
    x = torch.rand(1, 2048, 7, 7)
    with torch.no_grad():
        out = block.bn3(block.conv3(torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))))))
        gate = torch.sigmoid(block.conv5(torch.relu(block.conv4(out.mean((2, 3), keepdim=True)))))
        assert torch.allclose(block(x), torch.relu(out * gate + x), atol=1e-5)
        assert not torch.allclose(gate, torch.ones_like(gate))


def test_preprocessing_is_bgr_minus_the_vggface2_mean():
    net = VGGFace2Backbone.build("vggface2-resnet50")
    face = np.zeros((224, 224, 3), np.uint8)
    face[..., 0], face[..., 2] = 131, 91  # R, B
    x = net.preprocess(face)
    assert x.shape == (1, 3, 224, 224)
    assert x[0, 0, 0, 0].item() == pytest.approx(91 - BGR_MEAN[0], abs=1e-4)  # channel 0 is blue
    assert x[0, 2, 0, 0].item() == pytest.approx(131 - BGR_MEAN[2], abs=1e-4)


def test_refuses_a_pickle_that_would_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"conv1.weight": Evil()}, protocol=2))
    with pytest.raises(CheckpointError, match="refused to unpickle (builtins|io).open; only numpy arrays"):
        load_backbone("vggface2-resnet50", weights=str(path), device="cpu")
    assert not marker.exists()


def test_mismatched_and_truncated_files(pkl, tmp_path):
    name, _, path = pkl
    other = "vggface2-senet50" if "resnet" in name else "vggface2-resnet50"
    found = "SENet-50" if "senet" in name else "ResNet-50"
    with pytest.raises(CheckpointError, match=f"expected {other} .*found a VGGFace2 {found} file"):
        load_backbone(other, weights=str(path), device="cpu")
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_backbone(name, weights=str(cut), device="cpu")
    pth = tmp_path / "w.pth"
    torch.save({"a": torch.zeros(1)}, pth)
    with pytest.raises(CheckpointError, match="expected a VGGFace2 .pkl"):
        load_backbone(name, weights=str(pth), device="cpu")
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(pickle.dumps({"dense.kernel": np.zeros((2, 2), np.float32)}))
    with pytest.raises(CheckpointError, match="no VGGFace2 layer names"):
        load_backbone(name, weights=str(foreign), device="cpu")


def test_verify_end_to_end(pkl, run_cli, demo):
    name, _, path = pkl
    result = run_cli("verify", "--backbone", name, "--weights", path, demo["obama"], demo["biden"], "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["backbone"] == name and -1 <= row["similarity"] <= 1
    other, found = ("vggface2-senet50", "ResNet-50") if "resnet" in name else ("vggface2-resnet50", "SENet-50")
    bad = run_cli("verify", "--backbone", other, "--weights", path, demo["obama"], demo["biden"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert f"expected {other} ({'SENet' if 'senet' in other else 'ResNet'}-50), found a VGGFace2 {found} file" in bad.output
