"""The official Sim2Word attribute network: a ResNet-50 body with 30 attribute heads.

The body is the caffe-style VGGFace2 ResNet-50 (224 px, B, G, R minus the VGGFace2 mean, the
same layer names as :mod:`s2w_toolkit.backbones.vggface2`); each of the 30 heads is a
``Linear(2048 -> c)`` on the pooled feature, in the order of :data:`HEADS`. For the yes/no
heads class 0 means "present".

Checkpoint: a ``.pth`` state dict with the body's keys (``conv1.weight`` ... ``layer4.2.bn3.*``)
and ``heads.<i>.weight`` / ``heads.<i>.bias`` for i = 0..29, read with ``weights_only=True``.
The published ``Face-Attributes2.pth`` is a whole pickled module, which this loader never
unpickles: load it once with the Sim2Word code, where you trust the file, and save its
``state_dict()`` (renaming its head keys to ``heads.<i>`` if they differ).

Maps: Grad-CAM of each head's predicted class at the last conv layer. Because every head is
linear on the global average of that layer, its Grad-CAM has a closed form
(:func:`~s2w_toolkit.cam.linear_head_cams`) and all 30 maps of a batch come from
one forward pass, with no backward pass.

Example:
    >>> import numpy as np, torch
    >>> net = Sim2WordAttributes().eval()
    >>> len(HEADS), HEADS[0].words, HEADS[8].name
    (30, ('Male', 'Female'), 'Hair Color')
    >>> p = net.predict(np.zeros((2, 150, 150, 3), np.uint8))
    >>> p.maps.shape, p.names[-1]
    (torch.Size([2, 30, 150, 150]), 'Pointy Nose')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..weights.checkpoints import load_strict, read_state_dict
from ..weights.formats import require_weights
from ..backbones.caffe_resnet import VGGFACE2_PIXELS, add_caffe_trunk, caffe_trunk_features
from ..errors import CheckpointError
from ..faces.aligned_landmarks import default_template
from ..faces.frames import box_transform, faces_to_tensor, maps_to_frame, warp
from ..faces.templates import AlignmentTemplate, dlib_chip_template
from ..interfaces import AttributeModel
from ..cam import linear_head_cams
from .prediction import AttributePrediction, choose_classes
from .word_regions import declare


@dataclass(frozen=True)
class Head:
    """One attribute head: its name, the word of each class, and its kind.

    Example:
        >>> head = HEADS[0]
        >>> head.kind in ("category", "binary"), len(head.words) >= 2
        (True, True)
    """

    name: str
    words: tuple[str, ...]
    kind: str  # "category": the class word is the answer; "binary": class 0 means present


def _yes_no(name: str, classes: int) -> Head:
    return Head(name, (name,) + tuple(f"not {name}" if i == 1 else f"{name}: unsure" for i in range(1, classes)),
                "binary")


#: The 30 heads in checkpoint order.
HEADS: tuple[Head, ...] = (
    Head("Gender", ("Male", "Female"), "category"),
    Head("Age", ("Young", "Middle Aged", "Senior"), "category"),
    Head("Race", ("Asian", "White", "Black"), "category"),
    *(_yes_no(n, 3) for n in ("Bald", "Wavy Hair", "Receding Hairline", "Bangs", "Sideburns")),
    Head("Hair Color", ("Black Hair", "Blond Hair", "Brown Hair", "Gray Hair", "Unknown Hair"), "category"),
    *(_yes_no(n, 2) for n in ("No Beard", "Mustache", "5 o'Clock Shadow", "Goatee")),
    *(_yes_no(n, 3) for n in ("Oval Face", "Square Face", "Round Face", "Double Chin", "High Cheekbones", "Chubby",
                              "Obstructed Forehead", "Fully Visible Forehead", "Brown Eyes", "Bags Under Eyes",
                              "Bushy Eyebrows", "Arched Eyebrows", "Mouth Closed", "Smiling", "Big Lips", "Big Nose",
                              "Pointy Nose")),
)


class Sim2WordAttributes(nn.Module, AttributeModel):
    """Sim2Word's 30-head attribute net (registered as ``sim2word-resnet50``).

    Example:
        >>> net = Sim2WordAttributes()
        >>> net.heads[0].out_features, net.heads[3].out_features, net.heads[9].out_features
        (2, 3, 2)
    """

    name = "sim2word-resnet50"
    attributes = tuple(h.name for h in HEADS)
    regions = declare(attributes)
    #: The crop the body reads: VGGFace2's, as for the vggface2 backbones.
    chip: AlignmentTemplate = dlib_chip_template(224, 0.15)

    def __init__(self) -> None:
        super().__init__()
        add_caffe_trunk(self, squeeze_excite=False)
        self.heads = nn.ModuleList(nn.Linear(2048, len(h.words)) for h in HEADS)

    @classmethod
    def load(cls, weights: str | None = None) -> "Sim2WordAttributes":
        needs = "--attribute-weights PATH (its .pth state dict); without one, use --attributes age-gender,face-parts"
        expected = f"a {cls.name} .pth state dict (ResNet-50 body + 30 heads)"
        state = read_state_dict(require_weights(weights, cls.name, needs), expected)
        heads = sorted({int(k.split(".")[1]) for k in state if k.startswith("heads.") and k.count(".") == 2})
        if "layer4.2.conv3.weight" not in state or heads != list(range(len(HEADS))):
            found = f"{len(heads)} heads.<i> entries" if heads else "no heads.<i> entries"
            body = "a ResNet-50 body" if "layer4.2.conv3.weight" in state else "no ResNet-50 body"
            raise CheckpointError(f"{weights}: expected {expected}, found {body} and {found}")
        for i, head in enumerate(HEADS):
            shape = tuple(state[f"heads.{i}.weight"].shape)
            if shape != (len(head.words), 2048):
                raise CheckpointError(f"{weights}: head {i} ({head.name}) has weight {shape}, "
                                      f"expected ({len(head.words)}, 2048)")
        net = cls()
        load_strict(net, state, weights, expected)
        return net.eval()

    def logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each head's class scores for network inputs ``x`` (normalised 224 crops)."""
        pooled = caffe_trunk_features(self, x).mean(dim=(2, 3))
        return [head(pooled) for head in self.heads]

    @torch.no_grad()
    def predict(self, images: np.ndarray, template: AlignmentTemplate | None = None) -> AttributePrediction:
        faces = faces_to_tensor(images, self.conv1.weight.device)
        template = template or default_template(np.asarray(images))
        matrix = box_transform(template, self.chip)
        features = caffe_trunk_features(self, VGGFACE2_PIXELS.apply(warp(faces, matrix, self.chip.size)))
        pooled = features.mean(dim=(2, 3))
        kinds = [h.kind for h in HEADS]
        confidence, predicted, present, rows = choose_classes([head(pooled) for head in self.heads],
                                                              [head.weight for head in self.heads], kinds)
        maps = maps_to_frame(linear_head_cams(features, rows), matrix, self.chip.size, tuple(faces.shape[2:]))
        words = [[HEADS[j].words[int(c)] for j, c in enumerate(row)] for row in predicted.tolist()]
        return AttributePrediction.build(self.attributes, words, confidence, present, maps,
                                         kinds=kinds, model=self.name)
