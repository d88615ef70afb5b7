"""Gender, age band and age in years from HSE FaceRes's own heads (the network that
:mod:`s2w_toolkit.backbones.faceres` uses for identity), with the original repository's
preprocessing and read-out.

The face is cut from the aligned face at FaceRes's crop (dlib chip, padding 0.2, 224 px), turned
to BGR minus the Caffe means. Read-out as in ``age_gender_identity/facial_analysis.py``: male when
the gender sigmoid is at least :data:`MALE_AT` (0.6, the original's ``is_male``); the age is
1 plus the probability-weighted index of the two most likely of the 100 age bins (their
probabilities renormalised). The band words and cut-offs are those of ``age-gender``
(:data:`~s2w_toolkit.attributes.age_gender.AGE_CUTOFFS`); the band's confidence is the
probability mass of the bins inside it.

Maps: Grad-CAM of each answer (the chosen gender's probability, the chosen band's mass) at the
network's CAM layer (the one CAM-layer rule), brought back to the aligned face.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> p = FaceResAttributes.load().predict(face, net.template)
    >>> p.names, p.words[0], tuple(p.maps.shape)
    (['Gender', 'Age'], ['Male', 'Middle Aged'], (1, 2, 150, 150))
    >>> top_two_age(torch.tensor([[0.0, 0.6, 0.3, 0.1] + [0.0] * 96]))  # 1 + (1 x 0.6 + 2 x 0.3) / 0.9
    tensor([2.3333])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..backbones.faceres import FACERES_PIXELS, FACERES_TEMPLATE, FaceResGraph, load_faceres_graph
from ..cam import find_cam_layer, gradcam
from ..capture import recording
from ..faces.aligned_landmarks import default_template
from ..faces.frames import box_transform, faces_to_tensor, maps_to_frame, warp
from ..faces.templates import AlignmentTemplate
from ..interfaces import AttributeModel
from ..targets import chosen_scores
from .age_gender import AGE_CUTOFFS, AGE_WORDS
from .prediction import AttributePrediction
from .word_regions import declare

#: The original repository's rule: male when the gender sigmoid is at least this.
MALE_AT = 0.6


def top_two_age(probs: torch.Tensor) -> torch.Tensor:
    """Age in years from ``(N, 100)`` bin probabilities: 1 + the two likeliest bins' indices
    weighted by their renormalised probabilities (the original's read-out)."""
    top, index = probs.topk(2, dim=1)
    return 1.0 + (index.to(probs.dtype) * top).sum(dim=1) / top.sum(dim=1).clamp_min(1e-12)


class FaceResAttributes(nn.Module, AttributeModel):
    """Gender and age of aligned faces from HSE FaceRes (registered as ``faceres``).

    Example:
        >>> FaceResAttributes.attributes, FaceResAttributes.regions["Age"]
        (('Gender', 'Age'), ('face',))
    """

    name = "faceres"
    attributes = ("Gender", "Age")
    regions = declare(attributes)

    def __init__(self, graph: FaceResGraph) -> None:
        super().__init__()
        self.graph = graph
        self.cam_name = find_cam_layer(graph, FACERES_TEMPLATE.size)
        ages = torch.arange(1, 101, dtype=torch.float32)
        bands = torch.bucketize(ages, torch.tensor(AGE_CUTOFFS), right=True)
        self.register_buffer("bands", torch.nn.functional.one_hot(bands, len(AGE_WORDS)).float())  # (100, 3)

    @classmethod
    def load(cls, weights: str | None = None) -> "FaceResAttributes":
        """From the fetched ``faceres.json`` (or a TFJS ``model.json`` of the same graph)."""
        return cls(load_faceres_graph(weights))

    def predict(self, images: np.ndarray, template: AlignmentTemplate | None = None) -> AttributePrediction:
        faces = faces_to_tensor(images, self.bands.device)
        template = template or default_template(np.asarray(images))
        size = tuple(faces.shape[2:])
        matrix = box_transform(template, FACERES_TEMPLATE)
        with torch.enable_grad():
            chips = FACERES_PIXELS.apply(warp(faces, matrix, FACERES_TEMPLATE.size))
            with recording({"cam": self.graph.get_submodule(self.cam_name)}) as seen:
                out = self.graph(chips)
            feats = seen["cam"][-1]
            male = out["gender"]
            is_male = male.detach() >= MALE_AT
            g_conf = torch.where(is_male, male, 1.0 - male)
            age = top_two_age(out["age"].detach())
            band = torch.bucketize(age, torch.tensor(AGE_CUTOFFS, device=age.device), right=True)
            a_conf = chosen_scores(out["age"] @ self.bands, band)
            scores = torch.stack([g_conf, a_conf], dim=1)
            maps = maps_to_frame(gradcam(feats, scores), matrix, FACERES_TEMPLATE.size, size)
        words = [["Male" if m else "Female", AGE_WORDS[b]] for m, b in zip(is_male.tolist(), band.tolist())]
        values = torch.stack([male.detach(), age], dim=1)
        return AttributePrediction.build(
            self.attributes, words, scores.detach(), np.ones((len(words), 2), bool), maps.detach(),
            kinds=["category", "category"], model=self.name, values=values.cpu(), thresholds=[MALE_AT, None])
