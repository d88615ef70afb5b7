"""``mediapipe``: expression words from MediaPipe's Face Landmarker (478-point mesh + 52 blendshapes).

The Face Landmarker bundle runs as one torch chain (:class:`~s2w_toolkit.attributes.face_mesh.FaceMesh`:
BlazeFace places the face in the aligned image, the mesh net reads a 256 px crop, the blendshape
net reads 146 of its points). Words, each a binary word with a value and a threshold
(:data:`WORDS`; "Left"/"Right" blendshapes are averaged):

* **Smiling**: mean of mouthSmileLeft/Right (mouth corners pulled up and out);
* **Mouth Open**: the inner-lip gap, mean distance of the mesh's inner-lip pairs 13-14, 82-87,
  312-317, over the inter-ocular distance (eye-outline centres), as the issue asked: it
  measures what the label says. jawOpen, by the same rule on faces-dev, gets 16/21 (lips parted
  in a smile over a closed jaw score 0.003-0.005) against the gap's 18/21;
* **Eyes Closed**: mean of eyeBlinkLeft/Right;
* **Brows Raised**: mean of browInnerUp and browOuterUpLeft/Right's mean (the whole brow up);
* **Brows Lowered**: mean of browDownLeft/Right (brows pulled down and together);
* **Frowning**: mean of mouthFrownLeft/Right: mouth corners pulled down (ARKit's sense; the brow
  furrow is Brows Lowered). Conservative: none of faces-dev's 22 faces passes 0.5 (max 0.13),
  and corners warped 7 px down on a 150 px demo face reach 0.3; it speaks only for a clear frown.

Dropped: **Squinting** (eyeSquint). Its neutral level is about 0.5: on faces-dev's faces
labelled not smiling its median is 0.50 (up to 0.73), so at 0.5 it would call every other
neutral face squinting, and with no squint labels there is no better threshold to defend.

Smiling and Mouth Open, labelled in faces-dev, have thresholds chosen there by one simple rule
(the midpoint between the two classes' medians, on each measure's scale: arithmetic for the
smile score, geometric for the lip-gap ratio; ``benchmarks/mediapipe_thresholds.py`` prints the
table); the others, unlabelled, use 0.5 on the blendshape score, MediaPipe's natural
midpoint. Confidence: ``sigmoid((value - threshold) / spread)``, present above 0.5.

Maps: the mesh region the action moves, rasterised in the aligned face's frame
(:mod:`~s2w_toolkit.attributes.mesh_regions`; edges blurred as ``face-parts`` blurs them), not
Grad-CAM. The mesh net's last spatial layer is 2 x 2, so its Grad-CAM could name a quadrant at
best; and the chain is global: the smile's input gradient on the demo faces is only 1.8-2.7x
denser on the mouth than on the face as a whole. A blendshape is a function of landmark
positions, so the region of those landmarks is where its evidence is, exactly and cheaply, as
in ``face-parts``. Each word has its own region (Smiling: lips and cheeks; Mouth Open: the
lips and the opening between them, the parts that opening the mouth moves (the meeting line
alone is a few pixels for a closed mouth, too small to erase); Eyes Closed: eyes and lids; Brows Raised: brows and
forehead; Brows Lowered: brows and the skin between them; Frowning: lips and chin).

A face the mesh cannot place (face-presence below 0.5: a grey image, noise, a face turned away)
abstains: its words are not present, their values NaN and their maps empty, with a one-line
warning naming its index in the batch, so that one unreadable face among others (a constant
face in a conformance check, one of Sim2Word's perturbed copies) does not take an explanation
down. A call in which no face can be placed is a one-line
:class:`~s2w_toolkit.errors.NoFaceError`.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> p = MediaPipeAttributes.load().predict(face, net.template)
    >>> p.names[:2], p.maps.shape, p.present[0, 0].item()  # Obama's broad smile
    (['Smiling', 'Mouth Open'], torch.Size([1, 6, 150, 150]), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import NoFaceError
from ..faces.aligned_landmarks import default_template
from ..faces.frames import faces_to_tensor
from ..faces.templates import AlignmentTemplate
from ..interfaces import AttributeModel
from .face_mesh import MIN_CONFIDENCE, FaceMesh, MeshResult
from .face_regions import EDGE_BLUR
from .mesh_regions import POLYGONS, mesh_region_masks
from .prediction import AttributePrediction
from .word_regions import regions_for

#: Smiling threshold on the mean mouthSmile score: the midpoint between the class medians of
#: faces-dev's smiling labels (yes 0.929, no 0.000: 0.465; 16/18 right), printed by
#: ``benchmarks/mediapipe_thresholds.py`` on 2026-12-07. faces-dev is never read at run time.
SMILE_THRESHOLD = 0.465
#: Mouth Open threshold on the inner-lip gap / IOD: the midpoint of faces-dev's class medians on
#: the gap's own (ratio) scale, the geometric mean (yes 0.164, no 0.006: 0.033, about 2 mm of lip
#: separation; 21/21 right in-sample). The arithmetic midpoint, 0.085 (18/21: slightly parted lips
#: at 0.053-0.063 read as closed), was printed first; same script and date.
MOUTH_GAP_THRESHOLD = 0.033
#: The unlabelled words' threshold on their blendshape score: MediaPipe's coefficients run 0..1
#: with 0.5 halfway through the action.
BLENDSHAPE_THRESHOLD = 0.5
#: Inner-lip point pairs (upper, lower) of the mesh, centre and either side (FACEMESH_LIPS).
INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317))


@dataclass(frozen=True)
class Word:
    """One binary word: present when ``measure`` exceeds ``threshold``; confidence
    ``sigmoid((value - threshold) / spread)``; ``maps``: mesh regions of its evidence map;
    ``regions``: the face regions (:data:`~s2w_toolkit.interfaces.FACE_REGIONS`) it speaks about.

    Example:
        >>> w = Word("Smiling", "smile", 0.4, 0.1, ("mouth",), ("mouth",))
        >>> round(float(w.confidence(torch.tensor(0.5))), 3)
        0.731
    """

    name: str
    measure: str
    threshold: float
    spread: float
    maps: tuple[str, ...]
    regions: tuple[str, ...]

    def confidence(self, value: torch.Tensor) -> torch.Tensor:
        """Probability that the word is present."""
        return torch.sigmoid((value - self.threshold) / self.spread)


WORDS: tuple[Word, ...] = (
    Word("Smiling", "smile", SMILE_THRESHOLD, 0.1, ("mouth", "cheeks"), regions_for("Smiling")),
    Word("Mouth Open", "mouth_gap", MOUTH_GAP_THRESHOLD, 0.02, ("mouth",), regions_for("Mouth Open")),
    Word("Eyes Closed", "blink", BLENDSHAPE_THRESHOLD, 0.1, ("eye_areas",), regions_for("Eyes Closed")),
    Word("Brows Raised", "brows_up", BLENDSHAPE_THRESHOLD, 0.1, ("eyebrows", "forehead"), regions_for("Brows Raised")),
    Word("Brows Lowered", "brows_down", BLENDSHAPE_THRESHOLD, 0.1, ("eyebrows", "glabella"),
         regions_for("Brows Lowered")),
    Word("Frowning", "frown", BLENDSHAPE_THRESHOLD, 0.1, ("mouth", "jaw"), regions_for("Frowning")),
)


def _eye_centres(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(points[:, list(POLYGONS[eye][0]), :2].mean(dim=1) for eye in ("right_eye", "left_eye"))


def interocular(points: torch.Tensor) -> torch.Tensor:
    """(N,) distance between the eye outlines' centres of (N, 478, 2+) mesh landmarks."""
    right, left = _eye_centres(points)
    return (left - right).norm(dim=-1)


def measures(result: MeshResult) -> dict[str, torch.Tensor]:
    """Every measure of :data:`WORDS`, (N,) each, from a :class:`MeshResult` (and ``squint``,
    the dropped word's, which ``benchmarks/mediapipe_thresholds.py`` reports).

    Example:
        >>> r = MeshResult(torch.zeros(1, 478, 3), None, None, torch.full((1, 52), 0.2), None, None, None)
        >>> r.landmarks[0, [263, 249, 390, 373, 374, 380, 381, 382, 362], 0] = 10.0  # the left eye, 10 px right
        >>> {k: round(float(v), 2) for k, v in measures(r).items()}["smile"], float(interocular(r.landmarks))
        (0.2, 5.625)
    """
    b = result.blendshape
    points = result.landmarks[..., :2]
    upper = points[:, [u for u, _ in INNER_LIP_PAIRS]]
    lower = points[:, [d for _, d in INNER_LIP_PAIRS]]
    gap = (upper - lower).norm(dim=-1).mean(dim=1) / interocular(points).clamp_min(1e-6)
    mean = lambda *names: torch.stack([b(n) for n in names]).mean(dim=0)  # noqa: E731
    return {"smile": mean("mouthSmileLeft", "mouthSmileRight"), "mouth_gap": gap,
            "blink": mean("eyeBlinkLeft", "eyeBlinkRight"),
            "brows_up": (b("browInnerUp") + mean("browOuterUpLeft", "browOuterUpRight")) / 2,
            "brows_down": mean("browDownLeft", "browDownRight"), "squint": mean("eyeSquintLeft", "eyeSquintRight"),
            "frown": mean("mouthFrownLeft", "mouthFrownRight")}


class MediaPipeAttributes(nn.Module, AttributeModel):
    """Expression words of aligned faces from MediaPipe's Face Landmarker (registered as ``mediapipe``).

    Example:
        >>> MediaPipeAttributes.attributes[:3], MediaPipeAttributes.regions["Eyes Closed"]
        (('Smiling', 'Mouth Open', 'Eyes Closed'), ('eyes',))
    """

    name = "mediapipe"
    attributes = tuple(w.name for w in WORDS)
    regions = {w.name: w.regions for w in WORDS}

    def __init__(self, mesh: FaceMesh) -> None:
        super().__init__()
        self.mesh = mesh

    @classmethod
    def load(cls, weights: str | None = None) -> "MediaPipeAttributes":
        """From a ``face_landmarker.task`` bundle (default: the installed one, ``s2w models fetch``)."""
        return cls(FaceMesh.load(Path(weights) if weights else None)).eval()

    def run(self, images: np.ndarray, template: AlignmentTemplate | None = None,
            partial: bool = False) -> MeshResult:
        """The mesh of aligned RGB uint8 faces ``(N, H, W, 3)`` (or one), without gradients;
        NoFaceError (naming the images) where the mesh finds no face, or with ``partial`` only
        when it finds none at all (:meth:`missing` names the others)."""
        images = np.asarray(images, dtype=np.uint8)
        images = images[None] if images.ndim == 3 else images
        with torch.no_grad():
            result = self.mesh(faces_to_tensor(images, self.mesh.anchors.device),
                               template or default_template(images))
        missing = self.missing(result)
        if missing and (not partial or len(missing) == len(images)):
            raise NoFaceError(f"mediapipe: no face in {self._where(result, missing)}; pass aligned faces")
        return result

    @staticmethod
    def missing(result: MeshResult) -> list[int]:
        """Indices of the faces the mesh could not place (face-presence below 0.5)."""
        return (result.presence < MIN_CONFIDENCE).nonzero().flatten().tolist()

    @staticmethod
    def _where(result: MeshResult, missing: list[int]) -> str:
        scores = ", ".join(f"{result.presence[i]:.2f}" for i in missing)
        where = f"image {missing[0]}" if len(missing) == 1 else f"images {', '.join(map(str, missing))}"
        return (f"{where} of the batch of {len(result.presence)} (MediaPipe's face-presence score {scores} "
                f"< {MIN_CONFIDENCE})")

    def predict(self, images: np.ndarray, template: AlignmentTemplate | None = None) -> AttributePrediction:
        result = self.run(images, template, partial=True)
        missing = self.missing(result)
        if missing:
            import warnings

            warnings.warn(f"mediapipe: no face in {self._where(result, missing)}: its words abstain", stacklevel=2)
        values = measures(result)
        value = torch.stack([values[w.measure] for w in WORDS], dim=1).float()
        confidence = torch.stack([w.confidence(value[:, j]) for j, w in enumerate(WORDS)], dim=1)
        size = tuple(np.asarray(images).shape[-3:-1])
        points = result.landmarks[..., :2]
        names = sorted({r for w in WORDS for r in w.maps})
        masks = mesh_region_masks(points, size, names, blur=(EDGE_BLUR * interocular(points)).tolist())
        maps = torch.stack([masks[:, [names.index(r) for r in w.maps]].amax(dim=1) for w in WORDS], dim=1)
        if missing:  # abstain: not present, no value, no map
            value[missing], confidence[missing], maps[missing] = float("nan"), 0.5, 0.0
        present = confidence > 0.5
        words = [[w.name for w in WORDS] for _ in range(value.shape[0])]
        return AttributePrediction.build(self.attributes, words, confidence.cpu(), present.cpu(), maps.cpu(),
                                         kinds=["binary"] * len(WORDS), model=self.name, values=value.cpu(),
                                         thresholds=[w.threshold for w in WORDS])
