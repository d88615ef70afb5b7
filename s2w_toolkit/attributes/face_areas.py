"""Face areas as words: every part of the face can be named.

A yes/no attribute is eligible only where it is present, so a planted nose from another person
cannot be named unless "Big Nose" happens to be present. ``face-areas`` makes each area of the
face a word of its own (registered as ``face-areas``): Eyes, Eyebrows, Nose, Mouth, Cheeks, Jaw
and Forehead, always eligible, each with its region as its map, drawn from the face mesh's 68
points when the mesh is installed and from dlib's 68 landmarks otherwise (as ``face-geometry``
draws them). In a composite the area's word is described by what the other models see there
(:func:`describe_areas`): "nose (big, pointy)", "mouth (smiling)".

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.align import align_face
    >>> from s2w_toolkit.faces.detect import FaceDetector
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> from s2w_toolkit.io.images import read_image
    >>> photo, template = read_image(demo_image("obama")), dlib_chip_template(150, 0.25)
    >>> face = align_face(photo, FaceDetector().find(photo).landmarks, template)
    >>> p = FaceAreas(landmarks="dlib68").predict(face[None], template)
    >>> p.names[:3], p.words[0][:3], bool(p.eligible.all())
    (['Eyes', 'Eyebrows', 'Nose'], ['eyes', 'eyebrows', 'nose'], True)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..interfaces import AttributeModel
from .face_regions import region_masks
from ..faces.aligned_landmarks import default_template
from .prediction import AttributePrediction

#: The areas, as attribute names; each speaks about the region of its lower-case name.
AREAS = ("Eyes", "Eyebrows", "Nose", "Mouth", "Cheeks", "Jaw", "Forehead")
#: Words that name an area inside another attribute's name ("Big Nose" -> "big").
SYNONYMS = {"eyes": {"eyes", "eye"}, "eyebrows": {"eyebrows", "eyebrow", "brows", "brow"}, "nose": {"nose"},
            "mouth": {"mouth"}, "cheeks": {"cheeks", "cheek"}, "jaw": {"jaw"}, "forehead": {"forehead"}}


class FaceAreas(AttributeModel):
    """The face's areas as always-eligible words, their regions as maps (see the module).

    Example:
        >>> FaceAreas.name, FaceAreas.regions["Nose"], FaceAreas(landmarks="dlib68").source
        ('face-areas', ('nose',), 'dlib68')
    """

    name: ClassVar[str] = "face-areas"
    attributes: ClassVar[tuple[str, ...]] = AREAS
    regions: ClassVar[dict[str, tuple[str, ...]]] = {area: (area.lower(),) for area in AREAS}

    def __init__(self, landmarks: str = "auto", mesh: Any = None) -> None:
        from .face_geometry import FaceGeometry

        self.geometry = FaceGeometry(landmarks, mesh)
        #: Where the 68 points come from: ``"mesh"`` or ``"dlib68"``.
        self.source = self.geometry.source

    @classmethod
    def load(cls, weights: str | None = None, landmarks: str = "auto") -> "FaceAreas":
        """``weights``: a ``face_landmarker.task`` bundle to take the mesh from (default: the installed one)."""
        from .face_geometry import FaceGeometry

        return cls(landmarks, FaceGeometry.load(weights, landmarks).mesh)

    def to(self, device: Any) -> "FaceAreas":
        self.geometry = self.geometry.to(device)
        return self

    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        images = np.asarray(images, dtype=np.uint8)
        images = images[None] if images.ndim == 3 else images
        template = template or default_template(images)
        points = self.geometry.landmarks_for(images, template)
        size = images.shape[1:3]
        maps = np.stack([np.stack([region_masks(p, size)[area.lower()] for area in AREAS]) for p in points])
        n, a = len(images), len(AREAS)
        return AttributePrediction.build(AREAS, [[area.lower() for area in AREAS]] * n, np.ones((n, a)),
                                         np.ones((n, a), bool), maps.astype(np.float32), kinds=["category"] * a,
                                         model=self.name)


def _short(name: str, area: str) -> str:
    """``name`` without the words that name ``area``, in lower case ("Big Nose" -> "big")."""
    kept = [w for w in name.split() if w.lower() not in SYNONYMS.get(area, {area})]
    return " ".join(kept).lower() or name.lower()


def describe_areas(prediction: AttributePrediction, regions: dict[str, tuple[str, ...]]) -> AttributePrediction:
    """``face-areas``' words described by the yes/no attributes present on the same face whose
    ``regions`` hold that area: "nose" becomes "nose (big, pointy)". Other columns are left alone;
    ``prediction`` is changed in place and returned.

    >>> import torch
    >>> p = AttributePrediction.build(["Big Nose", "Nose"], [["Big Nose", "nose"]], [[0.9, 1.0]], [[True, True]],
    ...                               np.zeros((1, 2, 4, 4)), kinds=["binary", "category"],
    ...                               model=["face-parts", "face-areas"])
    >>> describe_areas(p, {"Big Nose": ("nose",), "Nose": ("nose",)}).words
    [['Big Nose', 'nose (big)']]
    """
    areas = [j for j, model in enumerate(prediction.models) if model == FaceAreas.name]
    if not areas:
        return prediction
    present = prediction.present.cpu().numpy()
    words = [list(row) for row in prediction.words]
    for i in range(len(words)):
        for j in areas:
            area = prediction.names[j].lower()
            seen = [_short(name, area) for k, name in enumerate(prediction.names)
                    if k not in areas and prediction.kinds[k] == "binary" and present[i, k]
                    and area in regions.get(name, ())]
            seen = [word for word in seen if word != area]  # an attribute named by the area alone adds nothing
            words[i][j] = area + (f" ({', '.join(dict.fromkeys(seen))})" if seen else "")
    prediction.words = words
    return prediction
