"""HSE FaceRes (Savchenko, "Efficient facial representations for age, gender and identity
recognition in organizing photo albums using multi-output ConvNet", PeerJ CS 2019): one
MobileNet-v1 trained for identity on VGGFace2 (the Sim2Word paper's training set) with gender
and age heads. Its 1024-d pooled feature (``global_pooling/Mean``) is a second real
face-recognition network.

The weights are the TFJS graph model of ``@vladmandic/human@3.3.6`` (``faceres.json`` +
``faceres.bin``, float16), put in place by ``s2w models fetch`` and checked by SHA-256 at load;
:func:`~s2w_toolkit.weights.tfjs_graph.convert_tfjs` turns them into a native torch module.

Preprocessing is the original repository's (``age_gender_identity/facial_analysis.py``), not
the RGB 0..255 that the Human library feeds it: 224x224, RGB turned to BGR, minus the Caffe
means (103.939, 116.779, 123.68), unscaled. The original crops the MTCNN box grown by 10 px a
side; here the face is aligned to dlib's chip with padding 0.2 at 224 px, which frames the face
at about that scale (a 5-point alignment instead of a detector box; see docs/backbones.md).

Example:
    >>> import torch
    >>> net = FaceResBackbone.load()  # the fetched faceres.json and faceres.bin
    >>> net(torch.zeros(2, 3, 224, 224)).shape, FACERES_PIXELS.describe()
    (torch.Size([2, 1024]), 'bgr (x - (103.939, 116.779, 123.68)) / (1.0, 1.0, 1.0)')
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..faces.templates import dlib_chip_template
from ..weights.registry_files import registry_file
from .base import Backbone, PreprocessParams

#: What FaceRes reads: B, G, R minus the Caffe (ImageNet VGG) means, unscaled.
FACERES_PIXELS = PreprocessParams(mean=(103.939, 116.779, 123.68), scale=(1.0, 1.0, 1.0), bgr=True)
#: The face crop: dlib's 5-point chip with padding 0.2 at 224 px.
FACERES_TEMPLATE = dlib_chip_template(224, 0.2)
#: The graph's outputs by role.
OUTPUTS = {"embedding": "global_pooling/Mean", "gender": "gender_pred/Sigmoid", "age": "age_pred/Softmax"}


class FaceResGraph(nn.Module):
    """The converted FaceRes graph, taking the preprocessed NCHW input and returning the
    embedding, the male probability ``(N,)`` and the 100 age-bin probabilities.

    Example:
        >>> graph = load_faceres_graph()
        >>> out = graph(torch.zeros(2, 3, 224, 224))
        >>> out["embedding"].shape, out["gender"].shape, out["age"].shape
        (torch.Size([2, 1024]), torch.Size([2]), torch.Size([2, 100]))
    """

    def __init__(self, module: nn.Module, source: str = "<model>") -> None:
        super().__init__()
        self.graph = module
        names = [name.split(":")[0] for name in module.output_names]
        missing = [name for name in OUTPUTS.values() if name not in names]
        if missing:
            raise CheckpointError(f"{source}: not a FaceRes graph (no output {missing[0]!r}; it has "
                                  f"{', '.join(names) or 'none'})")
        self.index = {role: names.index(name) for role, name in OUTPUTS.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = self.graph(x.permute(0, 2, 3, 1))  # the graph declares NHWC; inside it runs NCHW
        out = {role: outputs[i] for role, i in self.index.items()}
        out["gender"] = out["gender"].reshape(-1)
        return out


def load_faceres_graph(weights: str | Path | None = None) -> FaceResGraph:
    """The FaceRes graph from ``weights`` (a TFJS ``model.json`` with its shards beside it) or,
    by default, the fetched ``faceres.json`` and ``faceres.bin`` (both checked by SHA-256)."""
    from ..weights.tfjs_graph import convert_tfjs

    if weights is None:
        registry_file("faceres.bin")
        weights = registry_file("faceres.json")
    return FaceResGraph(convert_tfjs(weights), str(weights)).eval()


class FaceResBackbone(Backbone):
    """HSE FaceRes identity network (registered as ``faceres``): 224x224 BGR minus the Caffe
    means, 1024-d embedding (the MobileNet's globally pooled last block).

    Example:
        >>> FaceResBackbone.name, FaceResBackbone.template.size, round(FaceResBackbone.threshold, 2)
        ('faceres', (224, 224), 0.55)
    """

    name = "faceres"
    input_size = (224, 224)
    embedding_dim = 1024
    template = FACERES_TEMPLATE
    threshold = 0.55
    threshold_source = ("the equal-error cosine (0.549) on faces-dev's 105 labelled pairs, 14 mates and 91 "
                        "non-mates of 6 people: small and in-sample; s2w calibrate on your own pairs replaces it")

    def __init__(self, graph: FaceResGraph) -> None:
        super().__init__()
        from ..cam import find_cam_layer

        self.graph = graph
        self._cam_name = find_cam_layer(graph, self.input_size)

    @classmethod
    def load(cls, weights: str | None = None) -> "FaceResBackbone":
        return cls(load_faceres_graph(weights))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)["embedding"]

    def preprocess_params(self) -> PreprocessParams:
        return FACERES_PIXELS

    @property
    def cam_layer(self) -> nn.Module:
        return self.graph.get_submodule(self._cam_name)
