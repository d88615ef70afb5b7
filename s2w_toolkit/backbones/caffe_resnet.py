"""The caffe-style ResNet-50 / SENet-50 trunk and VGGFace2's input normalisation.

Shared by the VGGFace2 backbones (:mod:`s2w_toolkit.backbones.vggface2`) and Sim2Word's
attribute network (:mod:`s2w_toolkit.attributes.sim2word_net`), which keeps the VGGFace2
layer names. Caffe-style: each bottleneck's stride sits on its first 1x1 conv and the stem
max-pool uses ``ceil_mode``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> trunk = nn.Module()
    >>> add_caffe_trunk(trunk, squeeze_excite=False)
    >>> x = VGGFACE2_PIXELS.apply(torch.full((1, 3, 224, 224), 128.0))
    >>> caffe_trunk_features(trunk.eval(), x).shape
    torch.Size([1, 2048, 7, 7])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import PreprocessParams

#: Mean pixel of VGGFace2 training faces, in the B, G, R order the network reads.
BGR_MEAN = (91.4953, 103.8827, 131.0912)
#: What VGGFace2 networks read: B, G, R minus :data:`BGR_MEAN`, unscaled.
VGGFACE2_PIXELS = PreprocessParams(mean=BGR_MEAN, scale=(1.0, 1.0, 1.0), bgr=True)
_BLOCKS = (3, 4, 6, 3)


class CaffeBottleneck(nn.Module):
    """1x1 (stride here, caffe-style), 3x3, 1x1 convs with batch-norm; optional squeeze-excite
    (``conv4``/``conv5``, reduction 16) applied before the residual sum.

    Example:
        >>> import torch
        >>> block = CaffeBottleneck(64, 64, stride=2, squeeze_excite=True).eval()
        >>> block(torch.zeros(1, 64, 8, 8)).shape
        torch.Size([1, 256, 4, 4])
    """

    def __init__(self, inplanes: int, planes: int, stride: int, squeeze_excite: bool) -> None:
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        self.squeeze_excite = squeeze_excite
        if squeeze_excite:
            self.conv4 = nn.Conv2d(out, out // 16, 1)
            self.conv5 = nn.Conv2d(out // 16, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.squeeze_excite:
            gate = out.mean(dim=(2, 3), keepdim=True)
            out = out * torch.sigmoid(self.conv5(F.relu(self.conv4(gate))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


def add_caffe_trunk(module: nn.Module, squeeze_excite: bool) -> None:
    """Give ``module`` the caffe-style ResNet-50 / SENet-50 trunk as ``conv1``, ``bn1``,
    ``layer1`` ... ``layer4`` (the VGGFace2 layer names), to be run by :func:`caffe_trunk_features`."""
    module.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    module.bn1 = nn.BatchNorm2d(64)
    inplanes, stages = 64, []
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), _BLOCKS)):
        layers = [CaffeBottleneck(inplanes, planes, 1 if i == 0 else 2, squeeze_excite)]
        layers += [CaffeBottleneck(planes * 4, planes, 1, squeeze_excite) for _ in range(1, blocks)]
        stages.append(nn.Sequential(*layers))
        inplanes = planes * 4
    module.layer1, module.layer2, module.layer3, module.layer4 = stages


def caffe_trunk_features(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run the trunk added by :func:`add_caffe_trunk`: ``(N, 2048, 7, 7)`` at 224 px."""
    x = F.relu(module.bn1(module.conv1(x)))
    x = F.max_pool2d(x, 3, 2, 0, ceil_mode=True)
    return module.layer4(module.layer3(module.layer2(module.layer1(x))))
