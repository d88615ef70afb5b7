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


@pytest.fixture(scope="module")
def biden_and_obama(tmp_path_factory, demo):
    """One photo of Biden (the larger face: index 0) next to Obama (index 1), losslessly."""
    from PIL import Image

    obama = Image.open(demo["obama"])
    biden = Image.open(demo["biden"]).crop((0, 0, 970, obama.height))  # his face, a smaller photo
    canvas = Image.new("RGB", (biden.width + obama.width + 40, max(biden.height, obama.height)), (128, 128, 128))
    canvas.paste(biden, (0, 0))
    canvas.paste(obama, (biden.width + 40, 0))
    path = tmp_path_factory.mktemp("two") / "biden_and_obama.png"
    canvas.save(path)
    return str(path)


def test_face_index_a_and_b_pick_a_face_in_each_image(run_cli, net, demo, biden_and_obama):
    from s2w_toolkit import load_pair
    from s2w_toolkit.pipeline import verify as run_verify

    def similarity(*args):
        result = run_cli("verify", *args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["similarity"]

    assert similarity(biden_and_obama, demo["obama"], "--face-index-a", "1") > 0.99
    assert similarity(demo["obama"], biden_and_obama, "--face-index-b", "1") > 0.99
    assert similarity(biden_and_obama, biden_and_obama, "--face-index", "1", "--face-index-b", "0") < 0.9
    pair = load_pair(demo["obama"], biden_and_obama, net, face_index=(0, 1))
    assert pair.info["b"]["box"][0] > 970 and run_verify(pair, net)["same_person"]  # the face right of Biden's photo
    result = run_cli("verify", biden_and_obama, demo["obama"], "--face-index-b", "1")
    assert result.exit_code == 1 and "obama.jpg: --face-index 1 asked, but only 1 face(s) found" in result.stderr


def test_attributes_takes_face_index_a(run_cli, monkeypatch, tmp_path, biden_and_obama):
    import s2w_toolkit.pipeline as pipeline

    asked, real = [], pipeline.load_face
    monkeypatch.setattr(pipeline, "load_face", lambda path, net, index, *args: asked.append(index) or
                        real(path, net, index, *args))
    for flag in ("--face-index-a", "--face-index-b"):  # one image per face: only -a applies
        result = run_cli("attributes", biden_and_obama, "--attributes", "face-parts", "--json", "--out", tmp_path,
                         flag, "1")
        assert result.exit_code == 0, result.stderr
    assert asked == [1, 0]
