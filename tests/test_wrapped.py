"""wrap_module: any nn.Module as a backbone, with its own normalisation, channel order and CAM layer."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from s2w_toolkit.backbones.wrapped import WrappedBackbone, wrap_module
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.faces.templates import arcface_template, dlib_chip_template


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(
        stem=nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()),
        layer4=nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()),
        pool=nn.AdaptiveAvgPool2d(1),
        flat=nn.Flatten(),
    ))


def random_faces(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(n + size).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def by_hand(faces: np.ndarray, mean, std) -> torch.Tensor:
    x = torch.from_numpy(faces.astype(np.float32)).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def test_settings_and_defaults():
    module = tiny_net()
    net = wrap_module(module, input_size=(64, 64), threshold=0.42, name="tiny")
    assert isinstance(net, WrappedBackbone) and net.module is module and not module.training
    assert (net.name, net.input_size, net.embedding_dim, net.threshold) == ("tiny", (64, 64), 16, 0.42)
    assert net.threshold_source == "given to wrap_module"
    expected = dlib_chip_template(64, 0.25)
    assert net.template.name == expected.name and np.array_equal(net.template.points, expected.points)
    assert net.describe()["embedding_dim"] == 16 and net.device == torch.device("cpu")
    class Named(WrappedBackbone):
        pass

    sub = wrap_module(tiny_net(), backbone_class=Named)
    assert type(sub) is Named and sub.embedding_dim == 16
    arcface = sub.template
    assert arcface.landmarks == "dlib68" and np.array_equal(arcface.points, arcface_template(112).points)
    assert list(net.state_dict()) == [f"module.{k}" for k in module.state_dict()]


def test_preprocess_and_forward_match_the_raw_module():
    module = tiny_net()
    mean, std = (10.0, 120.0, 200.0), (50.0, 60.0, 70.0)
    net = wrap_module(module, input_size=(32, 32), mean=mean, std=std)
    faces = random_faces(3, 32)
    x = net.preprocess(faces)
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x, by_hand(faces, mean, std), atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(net(x), module(by_hand(faces, mean, std)), atol=1e-6)
    assert torch.allclose(net.preprocess(faces[0]), x[:1])  # a single HWC face
    sim = net.similarity(x[:1], x[1:])
    assert sim.shape == (2,) and bool((sim.abs() <= 1 + 1e-6).all())


def test_bgr_reverses_the_channels_before_normalising():
    mean, std = (91.0, 103.0, 131.0), (1.0, 2.0, 4.0)  # B, G, R: the network's channel order
    module = tiny_net()
    net = wrap_module(module, input_size=(32, 32), mean=mean, std=std, bgr=True)
    faces = random_faces(2, 32)
    x = net.preprocess(faces)
    blue = (faces[..., 2].astype(np.float32) - 91.0) / 1.0
    red = (faces[..., 0].astype(np.float32) - 131.0) / 4.0
    assert np.allclose(x[:, 0].numpy(), blue) and np.allclose(x[:, 2].numpy(), red)
    assert torch.allclose(x, by_hand(faces[..., ::-1].copy(), mean, std), atol=1e-6)
    rgb = wrap_module(module, input_size=(32, 32), mean=mean, std=std).preprocess(faces)
    assert not torch.allclose(rgb, x)


def test_cam_layer_by_name_object_or_default():
    module = tiny_net()
    # the default: the last module to output a spatial map, the layer4 block (its ReLU's output)
    assert wrap_module(module, input_size=(32, 32)).cam_layer is module.layer4
    assert wrap_module(module, input_size=(32, 32), cam_layer=module.stem).cam_layer is module.stem
    net = wrap_module(module, input_size=(32, 32), cam_layer="layer4")
    assert net.cam_layer is module.layer4
    seen = []
    handle = net.cam_layer.register_forward_hook(lambda m, i, out: seen.append(out.shape))
    try:
        with torch.no_grad():
            net(net.preprocess(random_faces(2, 32)))
    finally:
        handle.remove()
    assert seen == [torch.Size([2, 16, 16, 16])]


def test_refusals():
    with pytest.raises(CheckpointError, match=r"^wrapped module returns shape \(1, 8, 7, 7\); "
                                              r"a backbone must return \(N, D\) embeddings$"):
        wrap_module(nn.Conv2d(3, 8, 3), input_size=(9, 9))
    with pytest.raises(CheckpointError, match=r"^cam_layer 'layer5' is not a submodule .*'stem', 'stem.0'.*'layer4'"):
        wrap_module(tiny_net(), input_size=(32, 32), cam_layer="layer5")
    with pytest.raises(CheckpointError, match="cam_layer Conv2d is not a submodule"):
        wrap_module(tiny_net(), input_size=(32, 32), cam_layer=nn.Conv2d(3, 3, 1))
    with pytest.raises(CheckpointError, match="returns 16-d embeddings, embedding_dim=32 was given"):
        wrap_module(tiny_net(), input_size=(32, 32), embedding_dim=32)
    with pytest.raises(CheckpointError, match=r"fails on a \(1, 3, 32, 32\) batch: RuntimeError"):
        wrap_module(nn.Sequential(nn.Flatten(), nn.Linear(5, 2)), input_size=(32, 32))
    with pytest.raises(CheckpointError, match="not square; pass a template="):
        wrap_module(tiny_net(), input_size=(32, 24))
    with pytest.raises(CheckpointError, match="backbone_class must be a subclass of WrappedBackbone"):
        wrap_module(tiny_net(), backbone_class=nn.Module)
    with pytest.raises(CheckpointError, match="not loaded by name"):
        WrappedBackbone.load("anything.pth")
    mlp = wrap_module(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)), input_size=(8, 8))
    assert mlp.embedding_dim == 4
    with pytest.raises(CheckpointError, match="has no layer with a spatial output larger than 1x1; pass cam_layer="):
        mlp.cam_layer


def test_verifies_the_demo_faces_through_the_pipeline(demo):
    from s2w_toolkit.pipeline import load_pair, verify

    net = wrap_module(tiny_net(), name="tiny", threshold=0.9)
    pair = load_pair(demo["obama"], demo["biden"], net)
    assert pair.a.shape == (1, 3, 112, 112) and pair.image_a.shape == (112, 112, 3)
    result = verify(pair, net)
    assert result["backbone"] == "tiny" and result["threshold"] == 0.9
    reference = tiny_net()  # the same weights, fed by hand: RGB (x - 127.5) / 127.5, NCHW

    def embed(face):
        x = (torch.from_numpy(face.astype(np.float32)).permute(2, 0, 1)[None] - 127.5) / 127.5
        return torch.nn.functional.normalize(reference(x), dim=1)

    with torch.no_grad():
        expected = float((embed(pair.image_a) * embed(pair.image_b)).sum())
        other = tiny_net(seed=1)
        other_cos = float(torch.nn.functional.cosine_similarity(
            other((torch.from_numpy(pair.image_a.astype(np.float32)).permute(2, 0, 1)[None] - 127.5) / 127.5),
            other((torch.from_numpy(pair.image_b.astype(np.float32)).permute(2, 0, 1)[None] - 127.5) / 127.5)))
    assert result["similarity"] == pytest.approx(expected, abs=1e-5)
    assert abs(other_cos - expected) > 1e-3  # another network would not pass: the check sees the weights
