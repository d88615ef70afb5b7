"""The model-randomisation sanity check (Adebayo et al., NeurIPS 2018): randomised copies of every
backbone kind, map agreement on hand-made maps, and the verdict on a model-blind explainer and
on Grad-CAM."""

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from nets import pair_from_faces, random_faces, randomise_batch_norm, tiny_backbone
from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.iresnet import IResNetBackbone
from s2w_toolkit.backbones.vggface2 import VGGFace2Backbone
from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.bench.sanity import (SURVIVAL_SPEARMAN, cascade, map_agreement, randomise, sanity_values,
                                      summarise_sanity, survives, weight_layers)
from s2w_toolkit.explainers.explanation import Explanation
from s2w_toolkit.interfaces import Explainer
from s2w_toolkit.registry import get_registry


class HeadFirst(nn.Module):
    """Registers its head before its body, runs the body first: registration order is not
    execution order. The PReLU has a single slope (no layer); the batch-norm has statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8 * 8 * 8, 16)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.PReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))


def _onnx_backbone(folder):
    """A small iresnet-like net exported by torch, so the graph keeps two BatchNormalization
    nodes (one before the first conv, one after the Gemm) whose statistics are initializers."""
    torch.manual_seed(0)
    body = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.PReLU(8),
                         nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.Flatten(), nn.Linear(16 * 8 * 8, 32),
                         nn.BatchNorm1d(32))
    randomise_batch_norm(body, weight=(0.5, 1.5))
    with torch.no_grad():
        body[3].weight.uniform_(0.1, 0.3)
    path = folder / "small.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(body.eval(), torch.zeros(1, 3, 32, 32), str(path), dynamo=False, input_names=["input.1"],
                          dynamic_axes={"input.1": {0: "N"}})
    return load_backbone("onnx", weights=str(path), device="cpu")


def _build(kind, request, tmp_path_factory):
    torch.manual_seed(0)
    if kind == "dlib-resnet":
        return request.getfixturevalue("net")  # the packaged weights
    if kind == "arcface-r18":
        return randomise_batch_norm(IResNetBackbone.build("arcface-r18"))
    if kind == "vggface2-resnet50":
        vgg = randomise_batch_norm(type(VGGFace2Backbone.build("vggface2-resnet50"))(num_classes=4), weight=(0.2, 0.6))
        vgg.input_size = (32, 32)  # the trunk is fully convolutional: 32 px runs the same layers, faster
        return vgg
    if kind == "onnx":
        return _onnx_backbone(tmp_path_factory.mktemp("sanity-onnx"))
    return wrap_module(randomise_batch_norm(HeadFirst()), input_size=(16, 16), name="head-first")


#: kind -> (number of weight layers, first layer, last layer)
KINDS = {
    "dlib-resnet": (30, "stem", "fc"),  # 29 convs (batch-norm folded in) and the fc
    "arcface-r18": (53, "conv1", "features"),
    "vggface2-resnet50": (107, "conv1", "fc"),  # the identification head is the top layer
    "onnx": (6, "module.nodes.n_0_BatchNormalization", "module.nodes.n_8_BatchNormalization"),
    "wrapped": (3, "module.body.0", "module.head"),
}


@pytest.fixture(scope="module", params=list(KINDS))
def case(request, tmp_path_factory):
    net = _build(request.param, request, tmp_path_factory)
    x = net.preprocess(random_faces(2, net.input_size[0], seed=3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    with torch.no_grad():
        embedding = net(x)
    layers = weight_layers(net)
    full = randomise(net, len(layers), seed=0, found=layers)
    return {"kind": request.param, "net": net, "x": x, "before": before, "embedding": embedding, "layers": layers,
            "full": full, "modes": modes}


def _changed(net, twin) -> set[str]:
    ours, theirs = net.state_dict(), twin.state_dict()
    assert ours.keys() == theirs.keys()
    return {k for k in ours if not torch.equal(ours[k], theirs[k])}


def test_layers_are_in_execution_order(case):
    total, first, last = KINDS[case["kind"]]
    names = [layer.name for layer in case["layers"]]
    assert (len(names), names[0], names[-1]) == (total, first, last)


def test_full_randomisation_changes_the_embedding_and_keeps_it_finite(case):
    with torch.no_grad():
        randomised = case["full"](case["x"])
    assert torch.isfinite(randomised).all()
    cosine = torch.nn.functional.cosine_similarity(case["embedding"], randomised)
    assert cosine.max() < 0.8, cosine


def test_full_randomisation_redraws_every_weight_and_nothing_else(case):
    weights = {name for layer in case["layers"] for name in layer.tensors}
    assert _changed(case["net"], case["full"]) == weights
    # no buffer is touched, so batch-norm running statistics stay as they were
    assert not weights & {name for name, _ in case["net"].named_buffers()}


def test_randomisation_is_seeded(case):
    # the top layer is drawn first, so with the same seed it is drawn as in the full randomisation
    net, top = case["net"], case["layers"][-1].tensors
    same, other = (randomise(net, 1, seed=seed, found=case["layers"]) for seed in (0, 1))
    assert _changed(net, same) == _changed(net, other) == set(top)
    assert not _changed(case["full"], same) & set(top)
    assert _changed(case["full"], other) >= set(top)


def test_the_original_is_untouched(case):
    net = case["net"]
    assert not [k for k, v in net.state_dict().items() if not torch.equal(v, case["before"][k])]
    assert [m.training for m in net.modules()] == case["modes"]


def test_top_k_changes_exactly_those_layers(case):
    layers = case["layers"]
    k = len(layers) // 2
    top = {name for layer in layers[len(layers) - k:] for name in layer.tensors}
    assert _changed(case["net"], randomise(case["net"], k, seed=0, found=layers)) == top
    with pytest.raises(ValueError, match="between 0 and"):
        randomise(case["net"], len(layers) + 1, found=layers)


def test_onnx_batch_norm_statistics_are_parameters_but_never_redrawn(tmp_path):
    net = _onnx_backbone(tmp_path)
    statistics = [name for name, _ in net.named_parameters() if "running" in name]
    assert len(statistics) == 4  # the converter keeps every float initializer as a parameter
    full = randomise(net, len(weight_layers(net)))
    assert not set(statistics) & _changed(net, full)
    assert {layer.name: layer.tensors for layer in weight_layers(net)}["module.nodes.n_0_BatchNormalization"] == (
        "module.weights.n_0_weight", "module.weights.n_0_bias")


def test_weight_layers_restores_training_mode_and_statistics():
    net = wrap_module(HeadFirst(), input_size=(16, 16)).train()
    stats = net.module.body[1].running_mean.clone()
    layers = weight_layers(net)
    assert net.training and net.module.body[1].training
    assert torch.equal(net.module.body[1].running_mean, stats)
    # the single-slope PReLU and the batch-norm's ones/zeros at init are no weights to redraw
    assert [(layer.name, layer.tensors) for layer in layers] == [
        ("module.body.0", ("module.body.0.weight", "module.body.0.bias")),
        ("module.head", ("module.head.weight", "module.head.bias"))]


def test_cascade_levels_go_from_the_top_to_every_layer():
    net = tiny_backbone(size=16)
    levels = cascade(net, levels=2, seed=5)
    assert [(lv.label, lv.layers, lv.total) for lv in levels] == [("top 2/3 layers", 2, 3), ("top 3/3 layers", 3, 3)]
    assert [lv.layers for lv in cascade(net, levels=10)] == [1, 2, 3]  # no more levels than layers
    assert [lv.layers for lv in cascade(_Fake30(), levels=4)] == [8, 15, 23, 30]
    # a true cascade: the top layer is drawn alike at every level
    top = net.module[4].weight
    assert torch.equal(levels[0].backbone.module[4].weight, levels[1].backbone.module[4].weight)
    assert not torch.equal(levels[0].backbone.module[4].weight, top)
    assert torch.equal(levels[0].backbone.module[0].weight, net.module[0].weight)
    with pytest.raises(ValueError):
        cascade(net, levels=0)


class _Fake30(nn.Module):
    """A 30-layer chain, enough to see the level arithmetic."""

    input_size = (4, 4)
    num_classes = 0

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), *[nn.Linear(48 if i == 0 else 4, 4) for i in range(30)])

    def forward(self, x):
        return self.layers(x)


# --- map agreement -------------------------------------------------------------------------


def test_map_agreement_on_hand_made_maps():
    ramp = np.random.default_rng(0).random((12, 10))
    assert map_agreement(ramp, ramp) == {"spearman": 1.0, "ssim": pytest.approx(1.0)}
    reversed_ = map_agreement(ramp, -ramp)
    assert reversed_["spearman"] == pytest.approx(-1.0) and reversed_["ssim"] < 0
    monotone = map_agreement(ramp, ramp**4)  # the same order, another picture
    assert monotone["spearman"] == pytest.approx(1.0) and monotone["ssim"] < 0.95
    smooth = np.add.outer(np.arange(16.0), np.arange(16.0))
    assert map_agreement(smooth, smooth[::4, ::4])["spearman"] > 0.98  # resized to 16x16 first
    assert map_agreement(torch.from_numpy(ramp)[None], ramp)["spearman"] == 1.0  # tensors, leading axes


def test_constant_and_tiny_maps_have_defined_values():
    ramp = np.arange(16.0).reshape(4, 4)
    assert map_agreement(np.full((4, 4), 3.0), np.zeros((4, 4))) == {"spearman": 1.0, "ssim": 1.0}
    flat_vs_ramp = map_agreement(np.ones((4, 4)), ramp)
    assert flat_vs_ramp["spearman"] == 0.0 and np.isfinite(flat_vs_ramp["ssim"]) and flat_vs_ramp["ssim"] < 0.5
    assert map_agreement(ramp, np.ones((4, 4)))["spearman"] == 0.0
    for shape in ((1, 3), (2, 2), (1, 1)):
        values = map_agreement(np.arange(np.prod(shape), dtype=float).reshape(shape), np.ones(shape))
        assert all(np.isfinite(v) for v in values.values())
    assert map_agreement(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])) == {"spearman": pytest.approx(1.0),
                                                                             "ssim": 1.0}
    with pytest.raises(ValueError, match="non-finite"):
        map_agreement(np.array([[0.0, np.nan]]), ramp)


def test_survives_flags_a_mean_absolute_spearman_above_one_half():
    assert SURVIVAL_SPEARMAN == 0.5
    assert survives([0.6, -0.6]) and survives([1.0, 0.2])
    assert not survives([0.5, -0.5]) and not survives([0.9, 0.0, -0.1])
    with pytest.raises(ValueError):
        survives([])


# --- the verdict on explainers ---------------------------------------------------------------


class FixedBlob(Explainer):
    """Ignores the model: the same centred Gaussian blob for every face."""

    name = "fixed-blob"

    def explain(self, pair, backbone, attributes=None):
        h, w = pair.image_a.shape[:2]
        rows, cols = np.mgrid[:h, :w]
        blob = np.exp(-((rows - h / 2) ** 2 + (cols - w / 2) ** 2) / (2 * (h / 5) ** 2))
        return Explanation(score=0.0, maps={"a": blob, "b": blob}, explainer=self.name)


@pytest.fixture(scope="module")
def tiny_run():
    net = tiny_backbone(size=32)
    faces = random_faces(8, 32, seed=1)
    return net, [pair_from_faces(net, faces[i], faces[i + 1]) for i in range(0, 8, 2)], cascade(net, levels=2)


def _full_spearmans(explainer, tiny_run):
    """Each side's Spearman at the full level, and the summary of the per-pair values."""
    net, pairs, copies = tiny_run
    spearmans, rows = [], []
    for pair in pairs:
        values = sanity_values(lambda backbone, pair=pair: explainer.explain(pair, backbone), explainer.explain(pair, net),
                               copies)
        assert json.loads(json.dumps(values)) == values  # plain data for a results row
        assert [level["label"] for level in values["levels"]] == ["top 2/3 layers", "top 3/3 layers"]
        spearmans += [values["levels"][-1][side]["spearman"] for side in ("a", "b")]
        rows.append(values)
    summary = summarise_sanity(rows, seed=0)
    assert summary["levels"][-1]["spearman"]["n"] == len(pairs)
    assert summary["levels"][-1]["spearman"]["mean"] == pytest.approx(np.mean(np.abs(spearmans)))
    return spearmans, summary


def test_an_explainer_that_ignores_the_model_is_flagged(tiny_run):
    spearmans, summary = _full_spearmans(FixedBlob(), tiny_run)
    assert spearmans == [1.0] * 8 and survives(spearmans) and summary["flagged"]
    assert summary["levels"][-1]["ssim"]["mean"] == pytest.approx(1.0)


def test_gradcam_is_not_flagged(tiny_run):
    spearmans, summary = _full_spearmans(get_registry().explainer("gradcam")(), tiny_run)
    assert np.mean(np.abs(spearmans)) < 0.35, spearmans  # 0.18 with these faces
    assert not survives(spearmans) and not summary["flagged"]
