"""`s2w explain`: every registered explainer writes JSON + PNG for the pair; maps are real."""

import json

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit import Explanation, load_pair
from s2w_toolkit.explainers.input_gradient import InputGradientExplainer


def test_two_explainers_write_json_and_png(run_cli, tmp_path, demo):
    pytest.importorskip("center_prior", reason="install ./plugins/s2w-center-prior (README test command)")
    result = run_cli("explain", "-e", "center-prior", "-e", "input-gradient", demo["obama"], demo["biden"],
                     "--out", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert "center-prior" in result.stdout and "input-gradient" in result.stdout and "different" in result.stdout
    for name in ("center-prior", "input-gradient"):
        e = Explanation.load(tmp_path / f"{name}.json")
        assert e.explainer == name and e.backbone == "dlib-resnet" and e.same_person is False
        assert e.score == pytest.approx(0.8137, abs=0.01)
        png = np.asarray(Image.open(tmp_path / f"{name}.png"))
        assert png.shape[0] > 300 and png.shape[1] > 300 and png.std() > 10
    prior = Explanation.load(tmp_path / "center-prior.json")
    h, w = prior.maps["a"].shape
    assert prior.maps["a"][h // 2, w // 2] == pytest.approx(1.0, abs=0.01)  # the blob peaks at the centre


@pytest.mark.slow  # the default Sim2Word end to end; tests/test_short_path.py checks the same with few placements
def test_explain_defaults_to_sim2word_on_the_demo_pair(run_cli, tmp_path):
    result = run_cli("explain", "--out", tmp_path)
    assert result.exit_code == 0, result.stderr
    data = json.loads((tmp_path / "sim2word.json").read_text())
    assert data["same_person"] is True and data["metadata"]["case"] == "mate"
    assert (tmp_path / "sim2word.png").stat().st_size > 20_000
    # the supported words as a table, or the caption that says none is supported
    assert ("ranked words" in result.stdout) == bool(data["words"])
    assert " ".join(result.stdout.split()).find(data["metadata"]["caption"][:60]) >= 0


def test_input_gradient_maps_move_when_the_model_moves(net, demo):
    import copy

    import torch

    pair = load_pair(demo["obama"], demo["biden"], net)
    before = InputGradientExplainer().explain(pair, net).maps["a"]
    other = copy.deepcopy(net)
    with torch.no_grad():
        other.units[-1].conv2.weight.mul_(-1.0)  # flip the last block's evidence
    after = InputGradientExplainer().explain(pair, other).maps["a"]
    assert before.shape == (150, 150) and before.sum() > 0
    assert np.corrcoef(before.ravel(), after.ravel())[0, 1] < 0.9


def test_output_folder_that_cannot_be_written(run_cli, tmp_path, demo):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("explain", demo["obama"], demo["biden"], "--out", blocker / "sub")
    assert result.exit_code == 1
    assert "output folder cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_one_or_two_images_only(run_cli, demo):
    result = run_cli("explain", demo["obama"])
    assert result.exit_code == 2 and "give two images" in result.stderr


def test_unknown_flags_become_explainer_options(run_cli, demo, tmp_path):
    pytest.importorskip("s2w_perturb", reason="install ./plugins/s2w-perturb (README test command)")
    result = run_cli("explain", "-e", "rise", demo["obama"], "--samples", "8", demo["biden"], "--center=no",
                     "--out", tmp_path)
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "rise.json").read_text())["metadata"]
    assert meta["samples"] == 8 and "samples=8" in result.stderr
    assert json.loads((tmp_path / "rise.json").read_text())["metadata"]["sources"]["b"].endswith("biden.jpg")
