"""The evidential IResNet-50 of Sim2Word §4: checkpoint layouts, EDL formulas, refusals."""

import re

import numpy as np
import pytest
import torch
from torch import nn

from nets import randomise_batch_norm
from s2w_toolkit.backbones.edl import EDLIResNet50
from s2w_toolkit.backbones.iresnet import IResNetBackbone
from s2w_toolkit.errors import CheckpointError

K = 10
EXPECTED = r"expected edl-iresnet50 \(iresnet r50 trunk \+ Linear\(512→K\) head\), found "


@pytest.fixture(scope="module")
def edl_file(tmp_path_factory):
    torch.manual_seed(0)
    net = randomise_batch_norm(EDLIResNet50(num_classes=K))
    path = tmp_path_factory.mktemp("w") / "edl.pth"
    torch.save(net.state_dict(), path)
    return net, path


@pytest.fixture(scope="module")
def ref(edl_file):
    """A batch and the saved network's embeddings and logits of it, computed once."""
    net, _ = edl_file
    x = torch.randn(2, 3, 112, 112, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        emb = net(x)
        return {"x": x, "emb": emb, "logits": net.head(emb)}


def test_state_dict_layout_and_settings():
    net = EDLIResNet50(num_classes=7)
    state = net.state_dict()
    assert state["head.weight"].shape == (7, 512) and state["head.bias"].shape == (7,)
    assert state["backbone.layer3.13.prelu.weight"].shape == (256,)
    assert "backbone.layer3.14.bn1.weight" not in state
    assert net.num_classes == 7 and net.describe()["num_classes"] == 7
    assert net.cam_layer is net.backbone.layer4
    assert net.template is IResNetBackbone.template and net.threshold == IResNetBackbone.threshold
    assert EDLIResNet50.summary() == {"input": "112x112", "embedding": "512"}
    faces = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    assert torch.equal(net.preprocess(faces), IResNetBackbone(depth=18).preprocess(faces))


def test_round_trip_and_sequential_layout(edl_file, ref, tmp_path):
    net, path = edl_file
    x = ref["x"]
    loaded = EDLIResNet50.load(str(path))
    assert loaded.num_classes == K and not loaded.training
    with torch.no_grad():
        emb = loaded(x)
        assert emb.shape == (2, 512) and torch.allclose(emb, ref["emb"], atol=1e-5)
        assert torch.allclose(loaded.logits(x), ref["logits"], atol=1e-5)
    seq = tmp_path / "seq.pth"
    torch.save(nn.Sequential(net.backbone, net.head).state_dict(), seq)
    with torch.no_grad():
        assert torch.allclose(EDLIResNet50.load(str(seq)).logits(x), ref["logits"], atol=1e-5)


def test_uncertainty_and_belief_follow_the_formulas(edl_file, ref):
    net, _ = edl_file
    alpha = torch.clamp(ref["logits"], min=0) * 200.0 + 1.0
    with torch.no_grad():
        u, belief = net.uncertainty(ref["x"]), net.belief(ref["x"])
    assert u.shape == (2,) and bool(((u > 0) & (u <= 1)).all())
    assert torch.allclose(u, K / alpha.sum(dim=1), rtol=1e-5)
    assert torch.allclose(belief, (alpha - 1) / alpha.sum(dim=1, keepdim=True), rtol=1e-5, atol=1e-7)
    assert torch.allclose(belief.sum(dim=1) + u, torch.ones(2), atol=1e-5)


def test_uncertainty_is_one_without_evidence_and_falls_as_a_logit_grows(edl_file, ref):
    net, _ = edl_file
    x, saved = ref["x"], net.head.bias.detach().clone()
    try:
        with torch.no_grad():
            net.head.bias.fill_(-1e4)  # every logit negative: no evidence at all
            assert torch.equal(net.uncertainty(x), torch.ones(2))
            previous = torch.ones(2)
            for b in (100.0, 400.0):
                net.head.bias[3] = b
                logit = ref["emb"] @ net.head.weight[3] + b
                assert bool((logit > 0).all())
                u = net.uncertainty(x)
                assert bool((u < previous).all())
                assert torch.allclose(u, K / (K + 200.0 * logit), rtol=1e-5)
                previous = u
    finally:
        with torch.no_grad():
            net.head.bias.copy_(saved)


def test_uncertainty_has_input_gradients(edl_file, ref):
    net, _ = edl_file
    inp = ref["x"].clone().requires_grad_(True)
    net.uncertainty(inp).sum().backward()
    assert torch.isfinite(inp.grad).all() and inp.grad.abs().sum() > 0


def test_evidence_scale_per_instance(edl_file, ref):
    net, _ = edl_file
    relu = torch.clamp(ref["logits"], min=0)
    try:
        net.evidence_scale = 1.0
        assert EDLIResNet50.evidence_scale == 200.0
        with torch.no_grad():
            assert torch.allclose(net.evidence(ref["x"]), relu, atol=1e-5)
            assert torch.allclose(net.uncertainty(ref["x"]), K / (K + relu.sum(dim=1)), rtol=1e-5)
            net.evidence_scale = 0.0
            assert torch.equal(net.uncertainty(ref["x"]), torch.ones(2))
    finally:
        del net.evidence_scale
    assert net.evidence_scale == 200.0


def _refusal(path) -> str:
    with pytest.raises(CheckpointError) as info:
        EDLIResNet50.load(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_refuses_wrong_files(edl_file, tmp_path):
    net, path = edl_file
    r18 = IResNetBackbone(depth=18).state_dict()
    edl_r18 = tmp_path / "edl-r18.pth"
    torch.save({**{f"backbone.{k}": v for k, v in r18.items()}, "head.weight": torch.zeros(K, 512),
                "head.bias": torch.zeros(K)}, edl_r18)
    assert re.search(EXPECTED + "an iresnet r18 trunk$", _refusal(edl_r18))
    arcface_r18 = tmp_path / "arcface-r18.pth"
    torch.save(r18, arcface_r18)
    assert re.search(EXPECTED + "an iresnet r18 trunk$", _refusal(arcface_r18))
    arcface_r50 = tmp_path / "arcface-r50.pth"
    torch.save(net.backbone.state_dict(), arcface_r50)  # what arcface_torch writes: no head
    assert re.search(EXPECTED + r"an iresnet r50 trunk but the head is missing", _refusal(arcface_r50))
    cut = tmp_path / "cut.pth"
    with open(path, "rb") as f:
        cut.write_bytes(f.read(5000))
    assert "but truncated or corrupt" in _refusal(cut)
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    assert re.search(EXPECTED + "no iresnet trunk$", _refusal(other))
    with pytest.raises(CheckpointError, match="edl-iresnet50 needs --weights"):
        EDLIResNet50.load(None)


def test_registered_and_verifies_through_the_cli(edl_file, ref, run_cli, demo):
    from s2w_toolkit import load_backbone

    _, path = edl_file
    loaded = load_backbone("edl-iresnet50", weights=str(path), device="cpu")
    with torch.no_grad():
        assert torch.allclose(loaded.logits(ref["x"]), ref["logits"], atol=1e-5)
    result = run_cli("verify", "--backbone", "edl-iresnet50", "--weights", path, demo["obama"], demo["biden"], "--json")
    assert result.exit_code == 0, result.output
    assert '"backbone": "edl-iresnet50"' in result.stdout
    bad = run_cli("verify", "--backbone", "edl-iresnet50", demo["obama"], demo["biden"])
    assert bad.exit_code == 1 and "edl-iresnet50 needs --weights PATH" in bad.output
