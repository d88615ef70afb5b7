"""dlib's face-recognition ResNet (29 conv layers, 128-d, LFW 99.38%) as a PyTorch module.

The weights are read from ``dlib_face_recognition_resnet_model_v1.dat`` (package
``face-recognition-models``) by :mod:`s2w_toolkit.weights.dlib_format`; dlib itself is not
needed. The file's ``affine`` layers (folded batch-norm) are folded into the preceding convs.

Example:
    >>> import torch
    >>> net = DlibResNet.load()
    >>> net(torch.zeros(1, 3, 150, 150)).shape
    torch.Size([1, 128])
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, PreprocessParams
from ..errors import CheckpointError
from ..weights.packaged import model_file
from ..faces.templates import dlib_chip_template
from ..weights.formats import DLIB, refuse_unless
from ..weights.dlib_format import DlibNet, read_dlib_net

WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# The residual units as they appear in the file, input side first.
_PLAIN = ["tag_or_skip", "con", "affine", "relu", "con", "affine", "add_prev", "relu"]
_DOWN = ["tag_or_skip", "con", "affine", "relu", "con", "affine",
         "tag_or_skip", "tag_or_skip", "avg_pool", "add_prev", "relu"]
_STEM = ["input", "con", "affine", "relu", "max_pool"]


def _conv(con: dict, affine: dict) -> nn.Conv2d:
    """A conv with the following per-channel affine folded in: y = gamma * conv(x) + beta."""
    weight = torch.from_numpy(con["weight"])
    bias = torch.from_numpy(con["bias"]) if con["bias"] is not None else torch.zeros(weight.shape[0])
    gamma, beta = torch.from_numpy(affine["gamma"]), torch.from_numpy(affine["beta"])
    if gamma.numel() != weight.shape[0]:
        raise CheckpointError("dlib network: affine layer does not match its convolution")
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(con["kernel"]), stride=tuple(con["stride"]),
                     padding=tuple(con["padding"]))
    with torch.no_grad():
        conv.weight.copy_(weight * gamma.view(-1, 1, 1, 1))
        conv.bias.copy_(bias * gamma + beta)
    return conv


def add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: sum of two maps, the smaller zero-padded at its trailing channels,
    rows and columns."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class DlibResidualUnit(nn.Module):
    """relu(add_prev(affine(conv(relu(affine(conv(x))))), shortcut)); the shortcut of a
    down-sampling unit is a 2x2 average pool of the input.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> unit = DlibResidualUnit(nn.Conv2d(4, 4, 3, 2, 1), nn.Conv2d(4, 4, 3, 1, 1), down=True)
        >>> unit(torch.zeros(1, 4, 8, 8)).shape
        torch.Size([1, 4, 4, 4])
    """

    def __init__(self, conv1: nn.Conv2d, conv2: nn.Conv2d, down: bool) -> None:
        super().__init__()
        self.conv1, self.conv2, self.down = conv1, conv2, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_prev(y, shortcut))


class DlibResNet(Backbone):
    """dlib's metric-learning face ResNet: 150x150 RGB chips -> 128-d descriptors.

    ``forward`` returns dlib's raw descriptor (norm about 1.4); ``similarity`` is the cosine of
    the normalised descriptors. The threshold is dlib's own rule, Euclidean distance 0.6 on raw
    descriptors, converted to cosine at the typical descriptor norm (see ``threshold_source``).

    Example:
        >>> from s2w_toolkit import load_backbone
        >>> net = load_backbone("dlib-resnet", device="cpu")
        >>> round(net.threshold, 3)
        0.904
    """

    name = "dlib-resnet"
    input_size = (150, 150)
    embedding_dim = 128
    template = dlib_chip_template(150, 0.25)
    # dlib: same person iff ||a - b|| < 0.6 on raw descriptors. With both norms equal to n,
    # ||a - b||^2 = 2 n^2 (1 - cos), so the rule reads cos > 1 - 0.18 / n^2. n = 1.37 is the
    # median raw norm of descriptors on real faces (the demo portraits give 1.35-1.39).
    TYPICAL_NORM = 1.37
    threshold = 1.0 - 0.18 / TYPICAL_NORM**2
    threshold_source = "dlib's Euclidean 0.6 rule at the typical descriptor norm 1.37"

    def __init__(self, net: DlibNet) -> None:
        super().__init__()
        kinds = net.kinds()
        if kinds[: len(_STEM)] != _STEM:
            raise CheckpointError("dlib network: unexpected stem (not dlib's face ResNet)")
        layers = net.layers
        self.pixels = PreprocessParams(mean=tuple(net.layers[0]["mean_rgb"]), scale=(256.0, 256.0, 256.0))
        self.stem = _conv(layers[1], layers[2])
        pool = layers[4]
        self.pool = nn.MaxPool2d(pool["kernel"], pool["stride"], pool["padding"])
        units, i = [], len(_STEM)
        while kinds[i : i + len(_PLAIN)] == _PLAIN or kinds[i : i + len(_DOWN)] == _DOWN:
            down = kinds[i : i + len(_DOWN)] == _DOWN
            units.append(DlibResidualUnit(_conv(layers[i + 1], layers[i + 2]), _conv(layers[i + 4], layers[i + 5]), down))
            i += len(_DOWN) if down else len(_PLAIN)
        if kinds[i:] != ["avg_pool", "fc"] or not units:
            raise CheckpointError("dlib network: unexpected layers after the residual units")
        self.units = nn.Sequential(*units)
        fc = torch.from_numpy(layers[-1]["weight"])  # stored (in, out)
        self.fc = nn.Linear(fc.shape[0], fc.shape[1], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(fc.t())

    @classmethod
    def load(cls, weights: str | None = None) -> "DlibResNet":
        path = Path(weights) if weights else model_file(WEIGHTS_FILE)
        refuse_unless(path, DLIB, f"dlib's face ResNet file ({WEIGHTS_FILE})")
        return cls(read_dlib_net(path)).eval()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last spatial feature map (N, 256, 2, 2): what ``cam_layer`` outputs."""
        return self.units(self.pool(F.relu(self.stem(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def preprocess_params(self) -> PreprocessParams:
        """(pixel - dlib's channel means) / 256, RGB."""
        return self.pixels

    @property
    def cam_layer(self) -> nn.Module:
        """The last 8x8 map (128 channels, the last unit of that level): the finest map of at
        least the 7x7 that Grad-CAM usually works at; the 4x4 and 2x2 maps after it are too coarse
        for a 150 px face."""
        return self.units[9]
