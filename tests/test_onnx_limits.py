"""ONNX files that would cost too much or read too far: a huge declared input, and external data
that points outside the model's folder (issue 12)."""

import os
import time

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.onnx_model import MAX_INPUT_SIDE
from s2w_toolkit.weights.onnx_graph import convert_onnx, read_onnx
from s2w_toolkit.errors import CheckpointError


def _pooling_graph(side: int, initializer=()) -> onnx.ModelProto:
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, side, side])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              initializer=list(initializer))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_a_huge_declared_input_is_refused_before_anything_runs(run_cli, tmp_path, demo):
    path = tmp_path / "huge.onnx"
    onnx.save(_pooling_graph(20000), str(path))  # ~100 bytes; the set-up pass on it took 11 GB
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=f"huge.onnx: declares a 20000x20000 input; the onnx backbone takes at "
                                              f"most {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE}"):
        load_backbone("onnx", weights=str(path), device="cpu")
    assert time.perf_counter() - start < 5
    result = run_cli("verify", "--backbone", "onnx", "--weights", path, demo["obama"], demo["biden"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "at most 1024x1024" in result.stderr
    onnx.save(_pooling_graph(MAX_INPUT_SIDE), str(tmp_path / "edge.onnx"))
    assert load_backbone("onnx", weights=str(tmp_path / "edge.onnx"), device="cpu").input_size == (1024, 1024)


def _add_graph() -> onnx.ModelProto:
    """y = x + w, with w = [1, 2, 3] stored as external data in ``w.bin``."""
    weight = numpy_helper.from_array(np.array([1, 2, 3], np.float32), "w")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], initializer=[weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture
def external_model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(_add_graph(), str(folder / "m.onnx"), save_as_external_data=True, location="w.bin", size_threshold=0)
    secret = tmp_path / "secret.bin"  # outside the model's folder, as /etc/passwd would be
    secret.write_bytes(np.array([7, 7, 7], np.float32).tobytes())
    return folder, secret


def _point_at(folder, location: str):
    model = onnx.load(str(folder / "m.onnx"), load_external_data=False)
    (entry,) = [e for e in model.graph.initializer[0].external_data if e.key == "location"]
    entry.value = location
    onnx.save(model, str(folder / "evil.onnx"))
    return folder / "evil.onnx"


def test_legitimate_external_data_still_loads(external_model):
    folder, _ = external_model
    assert (folder / "w.bin").is_file() and not onnx.load(str(folder / "m.onnx"), load_external_data=False) \
        .graph.initializer[0].raw_data
    out = convert_onnx(folder / "m.onnx")(torch.zeros(3))
    assert out.tolist() == [1.0, 2.0, 3.0]


def test_external_data_outside_the_model_folder_is_refused(external_model, run_cli, demo):
    folder, secret = external_model
    os.symlink(secret, folder / "link.bin")
    cases = {
        "link.bin": "a symlink",
        "../secret.bin": "which resolves outside the model's folder",
        str(secret): "an absolute or empty path",
    }
    for location, reason in cases.items():
        path = _point_at(folder, location)
        with pytest.raises(CheckpointError) as info:
            read_onnx(path)
        message = str(info.value)
        assert message == (f"{path}: tensor 'w' keeps its data in {location!r}, {reason}; external data must be a "
                           "regular file inside the model's folder")
        result = run_cli("verify", "--backbone", "onnx", "--weights", path, demo["obama"], demo["biden"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1 and reason in result.stderr
    os.mkfifo(folder / "pipe.bin")
    with pytest.raises(CheckpointError, match="'pipe.bin', not a regular file"):
        read_onnx(_point_at(folder, "pipe.bin"))
    os.link(folder / "w.bin", folder / "hard.bin")
    with pytest.raises(CheckpointError, match="'hard.bin', a file with other hard links"):
        read_onnx(_point_at(folder, "hard.bin"))


def test_a_model_proto_with_unloaded_external_data_is_refused(external_model):
    folder, _ = external_model
    model = onnx.load(str(folder / "m.onnx"), load_external_data=False)
    with pytest.raises(CheckpointError, match="tensor 'w' keeps its data in an external file that was not loaded"):
        convert_onnx(model)  # numpy_helper would read 'w.bin' relative to the working directory
