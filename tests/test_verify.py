"""`s2w verify` on the real default backbone and the bundled demo portraits."""

import json

import pytest


def test_same_person(run_cli, demo):
    result = run_cli("verify", demo["obama"], demo["obama2"], "--json", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["same_person"] is True
    assert data["similarity"] == pytest.approx(0.9686, abs=0.01)  # dlib's own value on these faces
    assert data["threshold"] == pytest.approx(0.904, abs=1e-3)


def test_different_person(run_cli, demo):
    result = run_cli("verify", demo["obama"], demo["biden"], "--json")
    data = json.loads(result.stdout)
    assert data["same_person"] is False
    assert data["similarity"] == pytest.approx(0.8169, abs=0.01)


def test_table_output_and_default_pair(run_cli):
    result = run_cli("verify")
    assert result.exit_code == 0
    assert "same person" in result.stdout and "obama.jpg" in result.stdout and "0.904" in result.stdout


def test_aligned_input_skips_detection(run_cli, tmp_path, net, demo):
    from PIL import Image

    from s2w_toolkit import load_face

    for name in ("obama", "obama2"):
        face, _ = load_face(demo[name], net)
        Image.fromarray(face).save(tmp_path / f"{name}.png")
    result = run_cli("verify", tmp_path / "obama.png", tmp_path / "obama2.png", "--aligned", "--json")
    assert json.loads(result.stdout)["same_person"] is True


def test_face_index_beyond_the_faces_found(run_cli, demo):
    result = run_cli("verify", demo["obama"], demo["biden"], "--face-index", "3")
    assert result.exit_code == 1
    assert "only 1 face(s) found" in result.stderr
