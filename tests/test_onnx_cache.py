"""Converted ONNX graphs cached as plain-tensor plans (issue 15, cold start): the cached module
computes what a fresh conversion does, a later process needs no ``onnx``, and a damaged or
hostile cache file is converted again without running anything."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx_graphs import every_operator_graph

from s2w_toolkit.weights.graph_plan import cached_plan_path, load_converted, load_plan, save_plan
from s2w_toolkit.weights.onnx_graph import OnnxModule, convert_onnx, plan_graph


@pytest.fixture
def model_file(tmp_path, monkeypatch):
    monkeypatch.setenv("S2W_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "every.onnx"
    onnx.save(every_operator_graph(size=24), str(path))
    return path


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 24, 24)).astype(np.float32))
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_a_plan_survives_the_file_round_trip_with_every_operator(tmp_path):
    plan = plan_graph(every_operator_graph(size=24))
    assert any(isinstance(v, bytes) for n in plan.nodes for v in n.attrs.values())  # the modes are bytes
    save_plan(plan, tmp_path / "plan.pt")
    again = load_plan(tmp_path / "plan.pt")
    assert again == plan
    assert _same(convert_onnx(every_operator_graph(size=24)), OnnxModule(again).eval())


def test_the_second_load_reads_the_cache_and_needs_no_onnx(model_file):
    first = load_converted(model_file)
    cached = cached_plan_path(model_file)
    assert cached.is_file()
    assert _same(first, convert_onnx(model_file))  # the cached module is the fresh conversion
    assert _same(load_converted(model_file), first)
    code = (
        "import sys, torch, numpy as np\n"
        "from s2w_toolkit.weights.graph_plan import load_converted\n"
        f"net = load_converted({str(model_file)!r})\n"
        "x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 24, 24)).astype(np.float32))\n"
        "print(__import__('json').dumps({'onnx': 'onnx' in sys.modules, "
        "'out': net(x).detach().numpy().ravel()[:4].tolist()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["onnx"] is False
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 24, 24)).astype(np.float32))
    assert report["out"] == first(x).detach().numpy().ravel()[:4].tolist()


def test_a_truncated_cache_file_is_converted_again_and_rewritten(model_file):
    reference = load_converted(model_file)
    cached = cached_plan_path(model_file)
    cached.write_bytes(cached.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="damaged cached conversion"):
        again = load_converted(model_file)
    assert _same(again, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_converted(model_file)  # rewritten whole: no warning the next time


class _Hostile:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['S2W_MARK'], 'w').write('ran')",))


def test_a_hostile_cache_file_runs_nothing(model_file, tmp_path, monkeypatch):
    mark = tmp_path / "mark"
    monkeypatch.setenv("S2W_MARK", str(mark))
    reference = convert_onnx(model_file)
    cached = cached_plan_path(model_file)
    cached.parent.mkdir(parents=True)
    torch.save({"plan": "{}", "tensors": {}, "x": _Hostile()}, cached, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.warns(UserWarning, match="damaged cached conversion"):
        net = load_converted(model_file)
    assert not mark.exists()
    assert _same(net, reference)


def test_an_unconvertible_file_is_refused_and_nothing_is_cached(tmp_path, monkeypatch):
    from s2w_toolkit.errors import CheckpointError

    monkeypatch.setenv("S2W_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(CheckpointError, match="not a readable ONNX model|not an ONNX model"):
        load_converted(bad)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.pt"))
