"""The ONNX converter and the ``onnx`` backbone: parity with onnxruntime on real face crops."""

import json
import warnings
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from nets import randomise_batch_norm
from onnx_graphs import every_operator_graph, legacy_opset_graph
from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.iresnet import IResNetBackbone
from s2w_toolkit.weights.onnx_graph import convert_onnx
from s2w_toolkit.weights.onnx_ops import SUPPORTED
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.faces.templates import arcface_template
from s2w_toolkit.pipeline import load_face

ort = pytest.importorskip("onnxruntime", reason="the test extra installs onnxruntime (the parity reference)")
TOL = 1e-4


def run_ort(model, x: np.ndarray) -> np.ndarray:
    source = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def export(net: torch.nn.Module, path, dynamic: bool = True) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), torch.zeros(1, 3, 112, 112), str(path), dynamo=False, input_names=["input.1"],
                          dynamic_axes={"input.1": {0: "None"}} if dynamic else None)
    return str(path)


@pytest.fixture(scope="module")
def crops(demo):
    """Real faces, aligned to the ArcFace template and normalised as insightface does."""
    aligner = SimpleNamespace(template=arcface_template(112))
    faces = np.stack([load_face(demo[n], aligner)[0] for n in ("obama", "obama2", "biden")])
    x = (torch.from_numpy(faces).permute(0, 3, 1, 2).float() - 127.5) / 127.5
    return faces, x.contiguous()


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    torch.manual_seed(0)
    net = randomise_batch_norm(IResNetBackbone.build("arcface-r18"))
    folder = tmp_path_factory.mktemp("onnx")
    torch.save(net.state_dict(), folder / "r18.pth")
    return net, export(net, folder / "r18.onnx"), folder / "r18.pth"


def test_exported_iresnet_matches_onnxruntime_and_torch(r18, crops):
    net, path, _ = r18
    _, x = crops
    backbone = load_backbone("onnx", weights=path, device="cpu")
    with torch.no_grad():
        ours = backbone(x).numpy()
        assert np.abs(ours - run_ort(path, x.numpy())).max() <= TOL
        assert np.abs(ours - net(x).numpy()).max() <= TOL
    assert backbone.input_size == (112, 112) and backbone.embedding_dim == 512
    assert backbone.normalisation == "rgb (x - 127.5) / 127.5"


def test_gradients_match_the_original_network(r18, crops):
    net, path, _ = r18
    _, x = crops
    backbone = load_backbone("onnx", weights=path, device="cpu")
    grads = []
    for model in (backbone, net):
        a = x[:1].clone().requires_grad_(True)
        torch.nn.functional.cosine_similarity(model(a), model(x[2:3])).sum().backward()
        grads.append(a.grad)
    assert torch.isfinite(grads[0]).all() and grads[0].abs().max() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-3)


def test_cam_layer_is_the_last_spatial_map(r18, crops):
    _, path, _ = r18
    backbone = load_backbone("onnx", weights=path, device="cpu")
    seen = {}
    handle = backbone.cam_layer.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape)))
    with torch.no_grad():
        backbone(crops[1][:1])
    handle.remove()
    assert seen["shape"] == (1, 512, 7, 7)


def test_every_operator_graph_matches_onnxruntime(crops, tmp_path):
    model = every_operator_graph()
    assert {n.op_type for n in model.graph.node} == set(SUPPORTED)
    _, x = crops
    reference = run_ort(model, x.numpy())
    with torch.no_grad():
        assert np.abs(convert_onnx(model)(x).numpy() - reference).max() <= TOL
        path = tmp_path / "every.onnx"
        onnx.save(model, str(path))
        backbone = load_backbone("onnx", weights=str(path), device="cpu")
        assert backbone.embedding_dim == 24
        assert np.abs(backbone(x).numpy() - reference).max() <= TOL
    assert backbone.cam_layer_name == "nodes.last_map"


def test_legacy_opset_semantics_match_onnxruntime():
    model = legacy_opset_graph()
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        ours = convert_onnx(model)(torch.from_numpy(x)).numpy()
    assert np.abs(ours - run_ort(model, x)).max() <= 1e-6


def test_a_graph_exported_with_batch_one_runs_batches(crops, tmp_path):
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 5, 4)
            self.fc = torch.nn.Linear(4 * 27 * 27, 16)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).reshape(1, -1))

    torch.manual_seed(1)
    path = export(Fixed(), tmp_path / "fixed.onnx", dynamic=False)
    _, x = crops
    backbone = load_backbone("onnx", weights=path, device="cpu")
    with torch.no_grad():
        batched = backbone(x).numpy()
    one_by_one = np.concatenate([run_ort(path, x[i:i + 1].numpy()) for i in range(len(x))])
    assert batched.shape == (3, 16) and np.abs(batched - one_by_one).max() <= TOL


def test_graph_that_normalises_itself_gets_raw_pixels(tmp_path):
    nodes = [helper.make_node("Sub", ["data", "mean"], ["centred"]),
             helper.make_node("GlobalAveragePool", ["centred"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["fc1"])]
    mean = onnx.numpy_helper.from_array(np.full((1, 3, 1, 1), 127.5, np.float32), "mean")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
                              [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 3])], initializer=[mean])
    path = tmp_path / "norm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    backbone = load_backbone("onnx", weights=str(path), device="cpu")
    assert backbone.normalisation == "rgb (x - 0) / 1"
    face = np.full((112, 112, 3), 200, np.uint8)
    with torch.no_grad():
        assert torch.allclose(backbone(backbone.preprocess(face)), torch.full((1, 3), 72.5))


def test_unsupported_operator_is_named(tmp_path):
    nodes = [helper.make_node("Erf", ["x"], ["e"]), helper.make_node("Flatten", ["e"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 192])])
    path = tmp_path / "erf.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(CheckpointError, match=r"unsupported ONNX operator\(s\) Erf; supported: Add, AveragePool"):
        load_backbone("onnx", weights=str(path), device="cpu")


def test_wrong_and_truncated_files(r18, tmp_path, run_cli, demo):
    _, path, pth = r18
    cut = tmp_path / "cut.onnx"
    blob = open(path, "rb").read()
    cut.write_bytes(blob[: len(blob) // 3])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\xff not a model" * 10)
    for bad, message in ((cut, "cut.onnx: "), (junk, "not a readable ONNX model"),
                         (pth, "expected an .onnx model for the onnx backbone, found a PyTorch checkpoint")):
        with pytest.raises(CheckpointError, match=message):
            load_backbone("onnx", weights=str(bad), device="cpu")
        result = run_cli("verify", "--backbone", "onnx", "--weights", bad, demo["obama"], demo["biden"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_verify_end_to_end_agrees_with_the_pytorch_checkpoint(r18, run_cli, demo):
    _, path, pth = r18
    scores = {}
    for backbone, weights in (("onnx", path), ("arcface-r18", pth)):
        result = run_cli("verify", "--backbone", backbone, "--weights", weights, demo["obama"], demo["biden"], "--json")
        assert result.exit_code == 0, result.output
        scores[backbone] = json.loads(result.stdout)["similarity"]
    assert scores["onnx"] == pytest.approx(scores["arcface-r18"], abs=TOL)


def test_each_loader_names_the_format_it_was_given(r18, tmp_path):
    _, onnx_path, pth = r18
    pkl = tmp_path / "w.pkl"
    pkl.write_bytes(b"\x80\x02}q\x00.")
    cases = [
        ("arcface-r18", onnx_path, "expected an arcface_torch .pth state dict for arcface-r18, found an ONNX model"),
        ("edl-iresnet50", pkl, "expected a .pth state dict of edl-iresnet50 .*, found a pickle"),
        ("vggface2-senet50", onnx_path, "expected a VGGFace2 .pkl weight file for vggface2-senet50, found an ONNX model"),
        ("dlib-resnet", pth, r"expected dlib's face ResNet file \(dlib_face_recognition_resnet_model_v1.dat\), "
                             "found a PyTorch checkpoint"),
        ("onnx", pkl, "expected an .onnx model for the onnx backbone, found a pickle"),
    ]
    for name, path, message in cases:
        with pytest.raises(CheckpointError, match=message):
            load_backbone(name, weights=str(path), device="cpu")


def test_names_of_module_attributes_are_valid_node_and_weight_names():
    """An initializer named ``half`` and a node named ``to`` (names ``nn.Module`` uses itself)
    convert and run like any other name."""
    from s2w_toolkit.weights.onnx_graph import convert_onnx

    weight = helper.make_tensor("half", TensorProto.FLOAT, [1, 3, 1, 1], [2.0, 3.0, 4.0])
    nodes = [helper.make_node("Mul", ["x", "half"], ["m"], name="to"), helper.make_node("Flatten", ["m"], ["y"],
                                                                                          name="keys")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12])], initializer=[weight])
    module = convert_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    out = module(torch.ones(1, 3, 2, 2))
    assert out.tolist() == [[2.0] * 4 + [3.0] * 4 + [4.0] * 4]
    assert module.node("to") is module.nodes["n_to"]
