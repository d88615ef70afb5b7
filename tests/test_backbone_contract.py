"""The ``Backbone`` contract on every backbone kind: preprocessing is the per-channel affine map
its ``preprocess_params()`` states, and the CAM layer (named by the backbone, or found by the one
rule of ``s2w_toolkit.cam.find_cam_layer``) outputs a spatial map."""

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from nets import randomise_batch_norm
from onnx_graphs import every_operator_graph
from s2w_toolkit import load_backbone
from s2w_toolkit.backbones.base import PreprocessParams
from s2w_toolkit.backbones.edl import EDLIResNet50
from s2w_toolkit.backbones.iresnet import IResNetBackbone
from s2w_toolkit.backbones.vggface2 import VGGFace2Backbone
from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.cam import find_cam_layer
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.testing import check_backbone, tiny_backbone


def _onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "every.onnx"
    onnx.save(every_operator_graph(), str(path))
    return load_backbone("onnx", weights=str(path), device="cpu")


def _faceres(tmp_path_factory):
    try:
        return load_backbone("faceres", device="cpu")
    except CheckpointError as exc:  # its files come from `s2w models fetch` (the README's set-up)
        pytest.skip(str(exc))


KINDS = {
    "dlib-resnet": lambda f: load_backbone("dlib-resnet", device="cpu"),
    "iresnet": lambda f: randomise_batch_norm(IResNetBackbone.build("arcface-r18")).eval(),
    "vggface2": lambda f: randomise_batch_norm(VGGFace2Backbone.build("vggface2-resnet50")).eval(),
    "edl": lambda f: randomise_batch_norm(EDLIResNet50(num_classes=4)).eval(),
    "wrapped": lambda f: tiny_backbone(),
    "onnx": _onnx,
    "faceres": _faceres,
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_backbone_kind_keeps_the_contract(kind, tmp_path_factory):
    check_backbone(KINDS[kind](tmp_path_factory))


@pytest.mark.parametrize("kind, params", [
    ("dlib-resnet", None),  # dlib's own channel means, read from the file
    ("iresnet", PreprocessParams(mean=(127.5,) * 3, scale=(127.5,) * 3)),
    ("vggface2", PreprocessParams(mean=(91.4953, 103.8827, 131.0912), scale=(1.0,) * 3, bgr=True)),
    ("wrapped", PreprocessParams(mean=(127.5,) * 3, scale=(127.5,) * 3)),
    ("faceres", PreprocessParams(mean=(103.939, 116.779, 123.68), scale=(1.0,) * 3, bgr=True)),
])
def test_preprocess_params_state_each_backbones_normalisation(kind, params, tmp_path_factory):
    net = KINDS[kind](tmp_path_factory)
    stated = net.preprocess_params()
    if params is None:
        assert stated.scale == (256.0,) * 3 and not stated.bgr and 100 < stated.mean[0] < 140
    else:
        assert stated == params


def test_a_backbone_whose_preprocess_is_not_affine_fails_the_check():
    class Gamma(type(tiny_backbone())):
        def preprocess(self, faces):
            return super().preprocess(faces) ** 3  # not a per-channel affine map of the pixels

    net = tiny_backbone()
    net.__class__ = Gamma
    with pytest.raises(AssertionError, match="not the map preprocess_params"):
        check_backbone(net)


def test_a_backbone_that_does_not_state_its_preprocessing_says_so():
    net = tiny_backbone()
    net.preprocess_params = lambda: type(net).__mro__[1].preprocess_params(net)  # the interface default
    with pytest.raises(NotImplementedError, match="override preprocess_params"):
        net.preprocess(np.zeros((16, 16, 3), np.uint8))


class _LateRegistered(nn.Module):
    """Registers its output convolution first, but runs it last: registration order is not
    the order of execution."""

    def __init__(self):
        super().__init__()
        self.last = nn.Conv2d(4, 4, 3, padding=1)
        self.first = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.last(self.first(x))).flatten(1)


class _Channels(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1)


class _EndsInTranspose(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.block = nn.Sequential(nn.Conv2d(4, 4, 1), nn.Flatten(2), nn.Unflatten(2, (6, 6)))

    def forward(self, x):
        return self.block(self.conv(x)).mean(dim=(2, 3))


def test_the_cam_layer_rule_follows_execution_not_registration():
    assert find_cam_layer(_LateRegistered(), (8, 8)) == "last"


def test_the_cam_layer_rule_skips_rearranging_modules_and_their_containers():
    # block.2 (Unflatten) is 4-D and spatial, but only rearranges; "block" returns its output.
    assert find_cam_layer(_EndsInTranspose(), (8, 8)) == "block.0"


def test_the_cam_layer_rule_skips_one_cell_maps_and_takes_the_last_activation():
    body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.Tanh(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert find_cam_layer(body, (16, 16)) == "3"
    assert wrap_module(body, input_size=(16, 16)).cam_layer is body[3]


class _SharedActivation(nn.Module):
    """One ReLU used on the feature map and again on the embedding: its last output is 2-D."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.act(self.fc(self.act(self.bn(self.conv(x))).mean(dim=(2, 3))))


def test_a_module_called_twice_counts_by_its_last_call_and_modes_are_restored():
    net = _SharedActivation().train()
    before = net.bn.running_mean.clone()
    assert find_cam_layer(net, (8, 8)) == "bn"  # not "act", whose last output is (N, 4)
    assert net.training and net.bn.training and torch.equal(net.bn.running_mean, before)


def test_a_module_without_a_spatial_map_has_no_cam_layer():
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    assert find_cam_layer(flat, (8, 8)) is None
    with pytest.raises(CheckpointError, match="no layer with a spatial output"):
        wrap_module(flat, input_size=(8, 8)).cam_layer


def test_onnx_and_age_gender_graphs_take_their_cam_layer_from_the_same_rule(tmp_path_factory):
    from s2w_toolkit.attributes.age_gender import AgeGender

    net = _onnx(tmp_path_factory)
    assert net.cam_layer_name == find_cam_layer(net.module, net.input_size) == "nodes.last_map"
    model = AgeGender.load()
    for chip_net in (model.gender, model.age):
        size = chip_net.chip.size
        assert chip_net.cam_layer == find_cam_layer(chip_net.graph, size)
    # the layers the converted graphs were explained with before the rule moved to the core
    assert (model.gender.cam_layer, model.age.cam_layer) == ("nodes.layer_5_multiply", "nodes.layer_3_relu")


def test_check_backbone_catches_a_cam_layer_that_does_not_run():
    class Spare(type(tiny_backbone())):
        @property
        def cam_layer(self):
            return self.spare  # a submodule the forward pass never calls

    net = tiny_backbone()
    net.__class__ = Spare
    net.spare = nn.Conv2d(3, 3, 1)
    with pytest.raises(AssertionError, match="does not run"):
        check_backbone(net)
