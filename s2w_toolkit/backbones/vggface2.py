"""VGGFace2 ResNet-50 and SENet-50 (Cao et al., FG 2018) from the caffe-converted ``.pkl`` files.

The files (``resnet50_ft_weight.pkl``, ``senet50_scratch_weight.pkl``, ...) are Python-2
pickles of ``{layer name: numpy array}`` with torchvision-style names (``conv1``, ``bn1``,
``layer1.0.conv1``, ..., ``fc``); SENet blocks add ``conv4``/``conv5`` (squeeze and excite).
They are read by :func:`~s2w_toolkit.weights.safe_pickle.read_array_pickle`, never by
plain ``pickle``. The network is caffe-style: each bottleneck's stride sits on its first 1x1
conv and the stem max-pool uses ``ceil_mode``. The 8631-class identification head is kept;
the verification embedding is the 2048-d pooled feature.

Example:
    >>> import torch
    >>> net = VGGFace2Backbone.build("vggface2-senet50").eval()
    >>> x = torch.zeros(1, 3, 224, 224)
    >>> net(x).shape, net.logits(x).shape
    (torch.Size([1, 2048]), torch.Size([1, 8631]))
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..faces.templates import dlib_chip_template
from .base import Backbone, PreprocessParams
from .caffe_resnet import VGGFACE2_PIXELS, add_caffe_trunk, caffe_trunk_features
from ..weights.formats import PICKLE, refuse_unless, require_weights
from ..weights.safe_pickle import read_array_pickle

NUM_CLASSES = 8631


class VGGFace2Backbone(Backbone):
    """VGGFace2 ResNet-50 / SENet-50: 224x224 BGR minus :data:`~s2w_toolkit.backbones.caffe_resnet.BGR_MEAN`, 2048-d embedding,
    8631-class identification head (:meth:`logits`).

    Registered as ``vggface2-resnet50`` and ``vggface2-senet50``, plus ``_ft`` (MS-Celeb-1M
    pre-trained, fine-tuned on VGGFace2) and ``_scratch`` (VGGFace2 only) names for the two
    published weight sets of each; the architecture of a family is the same for all three.

    Example:
        >>> net = VGGFace2Backbone.build("vggface2-resnet50_ft")
        >>> net.input_size, net.embedding_dim, net.num_classes, net.squeeze_excite
        ((224, 224), 2048, 8631, False)
    """

    name = "vggface2-resnet50"
    input_size = (224, 224)
    embedding_dim = 2048
    # The VGGFace2 crop is the detector box grown by 30%, resized to 256 and centre-cropped
    # to 224; dlib's chip with 15% padding puts the face at about that scale.
    template = dlib_chip_template(224, 0.15)
    threshold = 0.5
    threshold_source = "no published operating point for the pooled feature; calibrate it on your own pairs"
    squeeze_excite = False

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.num_classes = num_classes
        add_caffe_trunk(self, self.squeeze_excite)
        self.fc = nn.Linear(2048, num_classes)

    @classmethod
    def build(cls, name: str) -> "VGGFace2Backbone":
        """An untrained network of the registered ``name``."""
        return VARIANTS[name]()

    @classmethod
    def load(cls, weights: str | None = None) -> "VGGFace2Backbone":
        weights = require_weights(weights, cls.name, "--weights PATH (a VGGFace2 caffe-converted .pkl)")
        refuse_unless(weights, PICKLE, f"a VGGFace2 .pkl weight file for {cls.name}")
        arrays = read_array_pickle(weights)
        found = _family_of(arrays)
        expected = "SENet-50" if cls.squeeze_excite else "ResNet-50"
        if found != expected:
            raise CheckpointError(f"{weights}: expected {cls.name} ({expected}), found "
                                  + (f"a VGGFace2 {found} file" if found else "no VGGFace2 layer names"))
        fc = arrays.get("fc.weight")
        net = cls(num_classes=fc.shape[0] if fc is not None and fc.ndim == 2 else NUM_CLASSES)
        _copy_arrays(net, arrays, weights)
        return net.eval()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv block's output, ``(N, 2048, 7, 7)`` at 224 px."""
        return caffe_trunk_features(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Scores of the 8631 VGGFace2 training identities (pre-softmax) from the pooled feature."""
        return self.fc(embedding)

    def preprocess_params(self) -> PreprocessParams:
        return VGGFACE2_PIXELS

    @property
    def cam_layer(self) -> nn.Module:
        return self.layer4


def _family_of(arrays: dict[str, np.ndarray]) -> str:
    if "layer1.0.conv1.weight" not in arrays or "conv1.weight" not in arrays:
        return ""
    return "SENet-50" if "layer1.0.conv4.weight" in arrays else "ResNet-50"


def _copy_arrays(net: nn.Module, arrays: dict[str, np.ndarray], source: str) -> None:
    state = net.state_dict()
    wanted = {k for k in state if not k.endswith("num_batches_tracked")}
    unknown = sorted(set(arrays) - wanted)
    missing = sorted(wanted - set(arrays))
    if unknown or missing:
        what = f"unexpected {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"
        count = len(unknown) + len(missing)
        raise CheckpointError(f"{source}: layer names do not match {net.name} ({what}, {count} mismatch(es) in all)")
    for key, array in arrays.items():
        if tuple(array.shape) != tuple(state[key].shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(array.shape)}, {net.name} expects "
                                  f"{tuple(state[key].shape)}")
        with torch.no_grad():
            state[key].copy_(torch.from_numpy(np.asarray(array, dtype=np.float32)))


def _variant(family: str, suffix: str) -> type[VGGFace2Backbone]:
    name = f"vggface2-{family}{suffix}"
    class_name = f"VGGFace2{family.title()}{suffix.title().replace('_', '')}"
    doc = (f"The ``{name}`` backbone (see :class:`VGGFace2Backbone`).\n\n"
           f"    Example:\n        >>> VARIANTS[{name!r}].name, VARIANTS[{name!r}].squeeze_excite\n"
           f"        ({name!r}, {family == 'senet50'})\n    ")
    return type(class_name, (VGGFace2Backbone,), {"name": name, "squeeze_excite": family == "senet50",
                                                  "__doc__": doc, "__module__": __name__})


#: One registered class per name, e.g. ``VARIANTS["vggface2-senet50_ft"]``.
VARIANTS = {cls.name: cls for cls in (_variant(f, s) for f in ("resnet50", "senet50") for s in ("", "_ft", "_scratch"))}
globals().update({cls.__name__: cls for cls in VARIANTS.values()})
