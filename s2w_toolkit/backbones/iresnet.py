"""insightface's IResNet (``arcface_torch``), for ArcFace and CosFace checkpoints.

The module tree and parameter names match ``arcface_torch/backbones/iresnet.py`` exactly, so
the ``.pth`` state dicts that its training writes load with ``strict=True``.

Example:
    >>> import torch
    >>> net = IResNetBackbone.build("arcface-r18")
    >>> net.eval()(torch.zeros(1, 3, 112, 112)).shape
    torch.Size([1, 512])
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .base import Backbone, PreprocessParams
from ..errors import CheckpointError
from ..faces.templates import arcface_template
from ..weights.checkpoints import load_strict, read_state_dict
from ..weights.formats import require_weights

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}


class IBasicBlock(nn.Module):
    """BN, conv3x3, BN, PReLU, conv3x3 (stride), BN, plus the (projected) input.

    Example:
        >>> import torch
        >>> IBasicBlock(64, 64)(torch.zeros(1, 64, 8, 8)).shape
        torch.Size([1, 64, 8, 8])
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


def _stage(inplanes: int, planes: int, blocks: int) -> nn.Sequential:
    downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, 2, bias=False), nn.BatchNorm2d(planes, eps=1e-05))
    layers = [IBasicBlock(inplanes, planes, 2, downsample)]
    layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def depth_of(state: dict[str, torch.Tensor]) -> tuple[int, ...]:
    """Blocks per stage found in an IResNet state dict, e.g. (3, 4, 14, 3) for r50."""
    counts = []
    for stage in range(1, 5):
        indices = {int(m.group(1)) for k in state if (m := re.match(rf"layer{stage}\.(\d+)\.", k))}
        counts.append(max(indices) + 1 if indices else 0)
    return tuple(counts)


class IResNetBackbone(Backbone):
    """ArcFace/CosFace IResNet: 112x112 RGB, (x/255 - 0.5)/0.5, 512-d embedding.

    Registered as ``arcface-r18|r34|r50|r100`` and ``cosface-r18|...``; the two families share
    the architecture and differ only in the training loss (and so in their weights).

    Example:
        >>> net = IResNetBackbone.build("cosface-r34")
        >>> net.depth, net.input_size, net.embedding_dim
        (34, (112, 112), 512)
    """

    name = "arcface-r50"
    input_size = (112, 112)
    embedding_dim = 512
    template = arcface_template(112)
    threshold = 0.3
    threshold_source = "a usual operating point for insightface ArcFace/CosFace models; calibrate it on your data"
    depth = 50

    def __init__(self, depth: int = 50, num_features: int = 512) -> None:
        super().__init__()
        layers = DEPTHS[depth]
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-05)
        self.prelu = nn.PReLU(64)
        self.layer1 = _stage(64, 64, layers[0])
        self.layer2 = _stage(64, 128, layers[1])
        self.layer3 = _stage(128, 256, layers[2])
        self.layer4 = _stage(256, 512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=1e-05)
        self.dropout = nn.Dropout(p=0.0)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        nn.init.constant_(self.features.weight, 1.0)

    @classmethod
    def build(cls, name: str) -> "IResNetBackbone":
        """An untrained network of the registered ``name`` (e.g. ``arcface-r100``)."""
        return _variant(name)(depth=int(name.rsplit("-r", 1)[1]))

    @classmethod
    def load(cls, weights: str | None = None) -> "IResNetBackbone":
        weights = require_weights(weights, cls.name, "--weights PATH (an arcface_torch .pth state dict)")
        state = read_state_dict(weights, f"an arcface_torch .pth state dict for {cls.name}")
        found = depth_of(state)
        expected = DEPTHS[cls.depth]
        if found != expected:
            known = {v: f"r{k}" for k, v in DEPTHS.items()}
            what = f"an iresnet {known[found]}" if found in known else f"blocks per stage {found}"
            raise CheckpointError(f"{weights}: expected {cls.name} (iresnet r{cls.depth}, blocks per stage "
                                  f"{expected}), found {what}")
        net = cls(depth=cls.depth, num_features=state["fc.weight"].shape[0] if "fc.weight" in state else 512)
        load_strict(net, state, weights, "an arcface_torch iresnet state dict")
        return net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.bn2(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.features(self.fc(self.dropout(torch.flatten(x, 1))))

    def preprocess_params(self) -> PreprocessParams:
        """(pixel - 127.5) / 127.5, RGB: insightface's (x / 255 - 0.5) / 0.5."""
        return PreprocessParams(mean=(127.5, 127.5, 127.5), scale=(127.5, 127.5, 127.5))

    @property
    def cam_layer(self) -> nn.Module:
        return self.layer4


def _variant(name: str) -> type[IResNetBackbone]:
    family, depth = name.rsplit("-r", 1)
    return VARIANTS[name] if name in VARIANTS else _make_variant(family, int(depth))


def _make_variant(family: str, depth: int) -> type[IResNetBackbone]:
    if depth not in DEPTHS:
        raise CheckpointError(f"no iresnet of depth {depth}; known: {', '.join(f'r{d}' for d in DEPTHS)}")
    name = f"{family}-r{depth}"
    doc = (f"The ``{name}`` backbone: an {family} IResNet-{depth} (see :class:`IResNetBackbone`).\n\n"
           f"    Example:\n        >>> VARIANTS[{name!r}].name, VARIANTS[{name!r}].depth\n"
           f"        ({name!r}, {depth})\n    ")
    return type(f"{family.title()}R{depth}", (IResNetBackbone,), {"name": name, "depth": depth, "__doc__": doc,
                                                                   "__module__": __name__})


#: One registered class per name, e.g. ``VARIANTS["arcface-r50"]``, also exported as ``ArcfaceR50``.
VARIANTS = {cls.name: cls for cls in (_make_variant(f, d) for f in ("arcface", "cosface") for d in DEPTHS)}
globals().update({cls.__name__: cls for cls in VARIANTS.values()})
