"""The xCos plugin (plugins/s2w-xcos): patch cosines, attentions, the trainable head, its CLI."""

import json
import shutil
from fractions import Fraction

import numpy as np
import pytest
import torch

pytest.importorskip("s2w_xcos", reason="install ./plugins/s2w-xcos (README test command)")

from s2w_toolkit import load_pair  # noqa: E402
from s2w_toolkit.errors import CheckpointError, OptionError  # noqa: E402
from s2w_toolkit.interfaces import Pair  # noqa: E402
from s2w_xcos.explainer import XCosExplainer  # noqa: E402
from s2w_xcos.head import AttentionHead, load_head, save_head  # noqa: E402
from s2w_xcos.train import SkippedImageWarning, train_head  # noqa: E402


@pytest.fixture(scope="module")
def pair(net, demo):
    return load_pair(demo["obama"], demo["biden"], net)


def grids_by_hand(net, x):
    out = []
    handle = net.cam_layer.register_forward_hook(lambda m, i, o: out.append(o.detach()))
    with torch.no_grad():
        net(x)
    handle.remove()
    return out[-1].double().numpy()


def test_identical_faces_give_unit_patch_cosines_and_xcos(net, pair):
    same = Pair(a=pair.a, b=pair.a.clone(), image_a=pair.image_a, image_b=pair.image_a)
    for attention in ("norms", "uniform"):
        e = XCosExplainer(attention=attention).explain(same, net)
        np.testing.assert_allclose(e.extra_maps["cosine"]["a"], 1.0, atol=1e-5)
        assert e.metadata["xcos"] == pytest.approx(1.0, abs=1e-5)
        assert e.score == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(e.maps["a"], e.extra_maps["attention"]["a"], atol=1e-5)


def test_uniform_attention_gives_the_mean_patch_cosine(net, pair):
    e = XCosExplainer(attention="uniform").explain(pair, net)
    cos, att = e.extra_maps["cosine"]["a"], e.extra_maps["attention"]["a"]
    np.testing.assert_allclose(att, 1 / 64, rtol=1e-6)
    assert e.metadata["xcos"] == pytest.approx(float(cos.astype(np.float64).mean()), abs=1e-6)
    assert e.metadata["attention"] == "uniform" and e.metadata["grid"] == [8, 8]


def test_obama_biden_maps_match_a_hand_computation(net, pair):
    e = XCosExplainer().explain(pair, net)  # default: norm attention
    assert e.metadata["attention"] == "norms" and e.metadata["channels"] == 128
    maps = [e.maps["a"], e.maps["b"]] + [m[s] for m in e.extra_maps.values() for s in "ab"]
    assert all(m.shape == (8, 8) and np.isfinite(m).all() for m in maps)
    fa, fb = grids_by_hand(net, pair.a)[0], grids_by_hand(net, pair.b)[0]  # (128, 8, 8)
    na, nb = np.linalg.norm(fa, axis=0), np.linalg.norm(fb, axis=0)
    cos = (fa * fb).sum(0) / (na * nb)
    att = na * nb / (na * nb).sum()
    np.testing.assert_allclose(e.extra_maps["cosine"]["a"], cos, atol=1e-5)
    np.testing.assert_allclose(e.extra_maps["attention"]["b"], att, atol=1e-6)
    np.testing.assert_allclose(e.maps["b"], cos * att, atol=1e-6)
    # with norm attention, xCos = sum <Fa, Fb> / sum ||Fa|| ||Fb|| over the cells
    assert e.metadata["xcos"] == pytest.approx((fa * fb).sum() / (na * nb).sum(), abs=1e-5)
    assert e.score == pytest.approx(net.similarity(pair.a, pair.b).item(), abs=1e-5)
    assert json.loads(e.to_json())["metadata"]["xcos"] == e.metadata["xcos"]


def test_options_are_checked():
    with pytest.raises(OptionError, match="option 'attention' wants one of: norms, uniform.*got 'softmax'"):
        XCosExplainer(attention="softmax")
    with pytest.raises(OptionError, match="conflicts with xcos_head"):
        XCosExplainer(attention="uniform", xcos_head="h.pt")
    with pytest.raises(OptionError, match="no option 'heads' \\(did you mean 'head'\\?\\)"):
        XCosExplainer(heads="h.pt")
    assert XCosExplainer(head="h.pt", seed="0", batch_size="3").attention_kind() == "trained:h.pt"


def test_head_projection_equals_the_convolution_on_concatenated_grids():
    torch.manual_seed(0)
    head = AttentionHead(6, 3, 4, hidden=5)
    for p in head.parameters():
        torch.nn.init.normal_(p)
    head.feature_scale.fill_(2.0)
    fa, fb = torch.rand(2, 6, 3, 4), torch.rand(2, 6, 3, 4)

    def raw(x, y):
        return head.out(torch.relu(head.mix(torch.cat([x, y], 1) / 2.0)))[:, 0]

    expected = torch.softmax((0.5 * (raw(fa, fb) + raw(fb, fa)) + head.position).flatten(1), 1).view(2, 3, 4)
    torch.testing.assert_close(head(fa, fb), expected)
    torch.testing.assert_close(head(fb, fa), expected)  # symmetric in the two faces


def test_training_lowers_the_l1_loss_and_the_head_reloads(net, demo, pair, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in ("obama", "obama2", "obama3", "biden"):
        shutil.copy(demo[name], folder / f"{name}.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(SkippedImageWarning, match="broken.jpg"):
        result = train_head(folder, net, epochs=4, pairs=12, batch_size=6, seed=3)
    assert result.faces == 4 and result.steps == 8 and len(result.skipped) == 1
    assert result.loss_after < result.loss_before
    # the loss is the mean |xCos - backbone cosine|; before training the head is uniform
    assert result.loss_before > 0 and len(result.history) == 4

    path = save_head(result.head, tmp_path / "head.pt", training=result.summary())
    payload = torch.load(path, weights_only=True)
    assert payload["config"] == {"channels": 128, "height": 8, "width": 8, "hidden": 32, "backbone": "dlib-resnet"}
    assert payload["training"]["loss_after"] == pytest.approx(result.loss_after)

    trained = XCosExplainer(xcos_head=str(path)).explain(pair, net)
    uniform = XCosExplainer(attention="uniform").explain(pair, net)
    norms = XCosExplainer().explain(pair, net)
    att = trained.extra_maps["attention"]["a"]
    assert trained.metadata["attention"] == f"trained:{path}"
    assert att.sum() == pytest.approx(1.0, abs=1e-5) and (att > 0).all()
    assert np.abs(att - uniform.extra_maps["attention"]["a"]).max() > 1e-4
    assert np.abs(att - norms.extra_maps["attention"]["a"]).max() > 1e-4
    np.testing.assert_allclose(trained.extra_maps["cosine"]["a"], uniform.extra_maps["cosine"]["a"])
    assert trained.metadata["xcos"] == pytest.approx(float((att * trained.extra_maps["cosine"]["a"]).sum()), abs=1e-5)


def test_bad_head_files_give_one_line_errors(net, pair, tmp_path):
    head = AttentionHead(128, 8, 8, backbone="dlib-resnet")
    good = save_head(head, tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes(open(good, "rb").read()[:300])
    (tmp_path / "text.pt").write_text("hello")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pt")
    torch.save({"format": "s2w-xcos-head", "version": 1, "config": Fraction(1, 3)}, tmp_path / "object.pt")
    for name, message in (("cut.pt", "truncated, corrupt"), ("text.pt", "not an xCos head file .not a torch.save"),
                          ("object.pt", "objects other than plain tensors"),
                          ("other.pt", "not an xCos attention head"), ("none.pt", "no such xCos head file")):
        with pytest.raises(CheckpointError, match=message) as info:
            XCosExplainer(xcos_head=str(tmp_path / name)).explain(pair, net)
        assert "\n" not in str(info.value)
    save_head(AttentionHead(128, 8, 8, backbone="arcface-r50"), tmp_path / "arc.pt")
    with pytest.raises(CheckpointError, match="trained for backbone 'arcface-r50'.*not 'dlib-resnet'"):
        XCosExplainer(head=str(tmp_path / "arc.pt")).explain(pair, net)
    save_head(AttentionHead(64, 7, 7, backbone="dlib-resnet"), tmp_path / "grid.pt")
    with pytest.raises(CheckpointError, match="expects 64x7x7 feature grids.*gives 128x8x8"):
        XCosExplainer(head=str(tmp_path / "grid.pt")).explain(pair, net)
    with pytest.raises(CheckpointError, match="failed finding central directory"):
        load_head(tmp_path / "cut.pt")


@pytest.fixture
def plugin_commands(monkeypatch):
    """Let the CLI call ``s2w_register_commands`` again, as a fresh ``s2w`` process would."""
    from s2w_toolkit.cli.main import S2WGroup

    monkeypatch.setattr(S2WGroup, "_plugins_loaded", False)


def test_cli_train_writes_a_head_that_explain_uses(run_cli, plugin_commands, net, pair, tmp_path):
    from skimage.io import imsave

    folder = tmp_path / "aligned"
    folder.mkdir()
    face_c = np.ascontiguousarray(pair.image_b[:, ::-1])
    for name, face in (("a.png", pair.image_a), ("b.png", pair.image_b), ("c.png", face_c)):
        imsave(folder / name, face)
    out = tmp_path / "heads" / "head.pt"
    result = run_cli("xcos", "train", "--images", folder, "--backbone", "dlib-resnet", "--aligned", "--epochs", 2,
                     "--pairs", 8, "--seed", 1, "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert out.exists() and f"wrote {out}" in result.stdout
    assert "on 3 faces (0 skipped), 8 pairs, 2 steps" in result.stdout
    head = load_head(out, backbone="dlib-resnet")
    assert head.config["backbone"] == "dlib-resnet" and head.config["channels"] == 128
    again = run_cli("xcos", "train", "--images", folder, "--aligned", "--epochs", 2, "--pairs", 8, "--seed", 1,
                    "--out", tmp_path / "again.pt", "--device", "cpu")
    assert again.exit_code == 0 and again.stdout.splitlines()[0] == result.stdout.splitlines()[0]
    first, second = torch.load(out, weights_only=True), torch.load(tmp_path / "again.pt", weights_only=True)
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])


def test_cli_train_checks_out_before_training(run_cli, plugin_commands, monkeypatch, demo, tmp_path):
    import os

    import s2w_xcos.train

    monkeypatch.setattr(s2w_xcos.train, "train_head", lambda *a, **k: pytest.fail("trained before checking --out"))
    (tmp_path / "file").write_text("a file, not a folder")
    for out in (tmp_path / "file" / "head.pt", tmp_path / "file" / "sub" / "head.pt"):
        result = run_cli("xcos", "train", "--images", os.path.dirname(demo["obama"]), "--out", out,
                         "--device", "cpu")
        assert result.exit_code == 1, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines == [f"error: {out}: cannot write the head ({tmp_path / 'file'} is not a folder)"]


def test_cli_bad_head_is_a_one_line_error(run_cli, demo, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = run_cli("explain", "-e", "xcos", "-o", f"xcos_head={bad}", demo["obama"], demo["biden"],
                     "--out", tmp_path / "out")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "bad.pt" in lines[0], result.stderr
    assert "Traceback" not in result.output
