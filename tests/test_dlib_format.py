"""The dlib serialisation reader: reads the real file exactly, refuses broken ones clearly."""

import pytest

from s2w_toolkit.weights.dlib_format import read_dlib_net
from s2w_toolkit.backbones.dlib_resnet import DlibResNet
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.weights.packaged import model_file

WEIGHTS = model_file("dlib_face_recognition_resnet_model_v1.dat")


def test_reads_the_real_network_to_the_last_byte():
    net = read_dlib_net(WEIGHTS)
    kinds = net.kinds()
    assert net.loss["distance_threshold"] == pytest.approx(0.6)
    assert net.layers[0]["size"] == (150, 150)
    assert net.layers[0]["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    assert net.layers[-1]["weight"].shape == (256, 128)
    first = net.layers[1]
    assert first["weight"].shape == (32, 3, 7, 7) and first["stride"] == (2, 2) and first["padding"] == (0, 0)


def test_truncated_file_is_refused(tmp_path):
    cut = tmp_path / "cut.dat"
    cut.write_bytes(WEIGHTS.read_bytes()[:1_000_000])
    with pytest.raises(CheckpointError, match="truncated"):
        DlibResNet.load(str(cut))


def test_trailing_bytes_are_refused(tmp_path):
    extra = tmp_path / "extra.dat"
    extra.write_bytes(WEIGHTS.read_bytes() + b"\x00\x01")
    with pytest.raises(CheckpointError, match="trailing"):
        read_dlib_net(extra)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, b"hello world" * 10])
def test_wrong_files_are_refused(tmp_path, content):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError):
        DlibResNet.load(str(bad))


def test_wrong_checkpoint_through_cli(run_cli, tmp_path, demo):
    bad = tmp_path / "model.dat"
    bad.write_bytes(b"not a network")
    result = run_cli("verify", demo["obama"], demo["biden"], "--weights", bad)
    assert result.exit_code == 1
    assert "not a dlib network file" in result.stderr and "Traceback" not in result.stderr
