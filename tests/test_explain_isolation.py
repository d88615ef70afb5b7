"""``s2w explain`` with failing plugins: each explainer isolated, every failure named, results
checked for non-finite values, result files written atomically."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import faulty_plugins
from s2w_toolkit import Explanation, hookimpl
from s2w_toolkit.errors import CheckpointError, PluginError
from s2w_toolkit.pipeline import load_backbone
from s2w_toolkit.testing import use_plugins


@pytest.fixture
def faulty():
    with faulty_plugins.registered():
        yield


def test_every_explainer_is_isolated_and_every_failure_named(run_cli, faulty, tmp_path, demo):
    solo = run_cli("explain", "-e", "input-gradient", demo["obama"], demo["biden"], "--out", tmp_path / "solo")
    assert solo.exit_code == 0, solo.output
    out = tmp_path / "all"
    names = ["broken-mutates", "broken-render", "broken-exit", "broken-empty", "broken-nan-score", "input-gradient"]
    result = run_cli("explain", *(x for n in names for x in ("-e", n)), demo["obama"], demo["biden"], "--out", out)
    assert result.exit_code == 1
    err = result.stderr
    assert "explainer 'broken-render' render failed: OSError: broken-render cannot draw" in err
    assert "explainer 'broken-exit' called sys.exit(3)" in err
    assert "map 'a' is empty (0x0)" in err and "score is nan, not a finite cosine" in err
    assert "4 of 6 explainer(s) failed: broken-render, broken-exit, broken-empty, broken-nan-score" in err
    # the explainer after the one that edited pair.a in place saw the original faces
    alone = Explanation.load(tmp_path / "solo" / "input-gradient.json")
    together = Explanation.load(out / "input-gradient.json")
    assert together.score == pytest.approx(alone.score, abs=1e-6)
    np.testing.assert_allclose(together.maps["a"], alone.maps["a"], atol=1e-5)
    assert (out / "input-gradient.png").is_file() and (out / "broken-mutates.png").is_file()
    assert (out / "broken-render.json").is_file() and not (out / "broken-render.png").exists()
    assert not (out / "broken-exit.json").exists()
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]


def test_ctrl_c_still_stops_a_run():
    from s2w_toolkit.pipeline import call_plugin

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_plugin("explainer 'x'", interrupted)
    with pytest.raises(PluginError, match="called sys.exit"):
        call_plugin("explainer 'x'", lambda: exit(2))


def test_json_is_strict_even_with_nan_metadata():
    e = Explanation(score=0.5, maps={"a": np.ones((2, 2)), "b": np.ones((2, 2))}, metadata={"u": float("nan")})
    data = json.loads(e.to_json(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["metadata"]["u"] is None


class _NanNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        with torch.no_grad():
            self.fc.weight[0, 0] = float("nan")

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


def _nan_backbone_plugin():
    from s2w_toolkit.backbones.wrapped import wrap_module

    class NanBackbone:
        name = "nan-net"

        @classmethod
        def load(cls, weights=None):
            return wrap_module(_NanNet(), input_size=(16, 16), name="nan-net")

    class Plugin:
        @hookimpl
        def s2w_register_backbones(self):
            return [NanBackbone]

    return Plugin()


def test_a_backbone_with_non_finite_weights_is_refused(run_cli, tmp_path, demo):
    with use_plugins(_nan_backbone_plugin(), installed=True):
        with pytest.raises(CheckpointError, match="tensor 'module.fc.weight' holds NaN"):
            load_backbone("nan-net", device="cpu")
        result = run_cli("verify", "--backbone", "nan-net", demo["obama"], demo["biden"])
        assert result.exit_code == 1 and "holds NaN or infinite values" in result.stderr


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from s2w_toolkit.io.atomic import write_text

    path = tmp_path / "summary.json"
    write_text(path, '{"old": true}')

    def full_disk(self, data):
        self.open("wb").write(data[:3])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(path), "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_text(path, '{"new": true, "long": "' + "x" * 100 + '"}')
    monkeypatch.undo()
    assert path.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
