"""`s2w calibrate` on the bundled pairs, and `--threshold FLOAT|FILE` on the commands with a verdict."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from s2w_toolkit.cli.options import resolve_threshold
from s2w_toolkit.errors import S2WError


@pytest.fixture(scope="module", autouse=True)
def shared_backbone(net):
    """Every command of this module gets a copy of the session's dlib-resnet instead of loading it."""
    from s2w_toolkit import pipeline

    real = pipeline.load_backbone

    def load(name="dlib-resnet", weights=None, device="auto"):
        return copy.deepcopy(net) if (name, weights) == ("dlib-resnet", None) else real(name, weights, device)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "load_backbone", load)
        yield


def _cli(*args):
    from click.testing import CliRunner

    from s2w_toolkit.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _verify(*args):
    result = _cli("verify", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """`s2w calibrate` at FMR 0.34 on the 3 + 3 bundled pairs: one non-mate of three accepted."""
    out = tmp_path_factory.mktemp("calibrate") / "threshold.json"
    result = _cli("calibrate", "--fmr", "0.34", "--out", out, "--roc", out.with_suffix(".png"))
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture(scope="module")
def faces(net, demo, tmp_path_factory):
    """The demo faces, detected and aligned once: ``{name: (png path, aligned RGB array)}``, so
    that the commands below can take them with ``--aligned`` and skip detection."""
    from PIL import Image

    from s2w_toolkit import load_face

    folder = tmp_path_factory.mktemp("faces")
    out = {}
    for name, path in demo.items():
        face, _ = load_face(path, net)
        Image.fromarray(face).save(folder / f"{name}.png")
        out[name] = (str(folder / f"{name}.png"), face)
    return out


@pytest.fixture(scope="module")
def bundled_scores(net, faces):
    """The cosine of each bundled pair, with its label and the names of its two faces."""
    import torch

    from s2w_toolkit.bench.pairs import read_pairs

    names = list(faces)
    with torch.no_grad():
        units = net.embed(net.preprocess(np.stack([faces[n][1] for n in names])))
    index = {f"{n}.jpg": i for i, n in enumerate(names)}
    return [(float(units[index[Path(p.a).name]] @ units[index[Path(p.b).name]]), p.same,
             (Path(p.a).stem, Path(p.b).stem)) for p in read_pairs()]


def test_calibrate_writes_the_threshold_for_the_target_fmr(calibrated, bundled_scores, net):
    from s2w_toolkit.bench.pairs import pair_list_id
    from s2w_toolkit.weights.fingerprint import weights_fingerprint

    out, result = calibrated
    data = json.loads(out.read_text())
    non_mates = sorted((score for score, same, _ in bundled_scores if not same), reverse=True)
    # floor(0.34 * 3) = 1 non-mate accepted: the lowest such threshold lies just above the second
    # (batches of other sizes move scores by ~1e-7, hence approx; the exact cut is tested on lists)
    assert data["threshold"] == pytest.approx(non_mates[1], abs=1e-5) and data["threshold"] < non_mates[0] - 0.01
    assert (data["target_fmr"], data["achieved_fmr"], data["false_matches"], data["non_mates"]) == (0.34, 1 / 3, 1, 3)
    assert (data["fnmr"], data["mates"], data["reachable"]) == (0.0, 3, True)
    assert data["backbone"] == "dlib-resnet" and data["weights"] == weights_fingerprint(net)
    assert data["pairs"] == pair_list_id(None) and data["pairs_skipped"] == 0
    summary = data["summary"]
    assert summary["roc_auc"] == 1.0 and summary["at_threshold"]["fmr"] == 1 / 3 and len(summary["roc"]["fmr"]) >= 3
    assert summary["tpr_at_fmr"][0]["note"] == "not measurable: needs at least 10 non-mates, have 3"
    assert "threshold" in result.stdout and "0.34 / 0.3333 (1/3)" in result.stdout
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_verify_uses_the_calibrated_threshold(calibrated, bundled_scores, faces):
    out, _ = calibrated
    top = max((row for row in bundled_scores if not row[1]), key=lambda row: row[0])[2]  # the accepted non-mate
    images = [faces[name][0] for name in top] + ["--aligned"]
    before = _verify(*images)
    after = _verify(*images, "--threshold", out)
    assert before["same_person"] is False and after["same_person"] is True  # the verdict flips
    assert after["threshold"] == json.loads(out.read_text())["threshold"] != before["threshold"]
    assert after["threshold_source"] == f"calibrated at FMR 0.34 on {json.loads(out.read_text())['pairs']} " \
                                        "(threshold.json)"
    table = _cli("verify", *images, "--threshold", out)
    assert "same person" in table.stdout and "calibrated at FMR 0.34" in table.stdout


def test_a_float_threshold_flips_a_verdict(faces, tmp_path):
    images = [faces["obama"][0], faces["obama2"][0], "--aligned"]
    assert _verify(*images)["same_person"] is True
    strict = _verify(*images, "--threshold", "0.99")
    assert strict["same_person"] is False and strict["threshold"] == 0.99
    assert strict["threshold_source"] == "--threshold 0.99"
    explained = _cli("explain", "-e", "input-gradient", *images, "--threshold", "0.99", "--out", tmp_path)
    assert explained.exit_code == 0, explained.output
    data = json.loads((tmp_path / "input-gradient.json").read_text())
    assert data["threshold"] == 0.99 and data["same_person"] is False
    assert data["metadata"]["threshold_source"] == "--threshold 0.99"


def test_a_file_for_another_backbone_is_refused(calibrated, tmp_path):
    other = tmp_path / "arcface.json"
    other.write_text(json.dumps({**json.loads(calibrated[0].read_text()), "backbone": "arcface-r50"}))
    result = _cli("verify", "--threshold", other)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"error: --threshold {other}: calibrated for backbone 'arcface-r50', not "
                                     "'dlib-resnet'; run s2w calibrate --backbone dlib-resnet")


@pytest.mark.parametrize("value, message", [
    ("nan", "--threshold nan: not a finite number"),
    ("inf", "--threshold inf: not a finite number"),
    ("0.9x", "--threshold 0.9x: neither a number nor a calibration file (no such file)"),
])
def test_a_bad_threshold_is_one_line(value, message):
    result = _cli("verify", "--threshold", value)
    assert result.exit_code == 1 and result.stderr.strip() == f"error: {message}"


def test_resolve_threshold_reads_numbers_and_calibration_files(tmp_path):
    from torch import nn

    from s2w_toolkit.backbones.wrapped import wrap_module

    assert resolve_threshold(" 0.5 ", "dlib-resnet") == (0.5, "--threshold 0.5")
    broken = tmp_path / "broken.json"
    broken.write_text('{"threshold": 0.5')
    with pytest.raises(S2WError, match="not a calibration JSON"):
        resolve_threshold(str(broken), "dlib-resnet")
    broken.write_text('{"threshold": null, "backbone": "dlib-resnet"}')
    with pytest.raises(S2WError, match="no finite number under 'threshold'"):
        resolve_threshold(str(broken), "dlib-resnet")
    good = tmp_path / "t.json"
    good.write_text(json.dumps({"threshold": 0.7, "backbone": "custom", "weights": "0000", "target_fmr": 0.01,
                                "pairs": "pairs.csv:abc"}))
    net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), input_size=(8, 8))
    with pytest.warns(UserWarning, match="calibrated on other custom weights"):
        assert resolve_threshold(str(good), net) == (0.7, "calibrated at FMR 0.01 on pairs.csv:abc (t.json)")


def test_calibrate_skips_pairs_that_do_not_load_and_refuses_one_class(tmp_path, faces):
    pairs = tmp_path / "pairs.csv"
    obama, obama2 = faces["obama"][0], faces["obama2"][0]
    pairs.write_text(f"a,b,same\n{obama},{obama2},1\n{obama},{tmp_path / 'gone.jpg'},0\n")
    result = _cli("calibrate", "--pairs", pairs, "--aligned", "--out", tmp_path / "t.json")
    assert result.exit_code == 1 and not (tmp_path / "t.json").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("warning: skipped pair csv:") and "gone.jpg" in lines[0]
    assert lines[1] == "error: calibration needs mate and non-mate pairs; the pairs that loaded have 1 mate(s) " \
                       "and 0 non-mate(s)"
    for bad in ("0", "1", "nan"):
        refused = _cli("calibrate", "--fmr", bad, "--out", tmp_path / "t.json")
        assert refused.exit_code == 1 and refused.stderr.strip().startswith("error: --fmr must lie strictly between")
