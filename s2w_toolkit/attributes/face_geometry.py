"""``face-geometry``: the geometric words of ``face-parts`` (nose, lips, eyes, eyebrows, face
shape) and a hair colour that answers only on unambiguous evidence; the default beside the
learned models (``mediapipe``, ``faceres``).

``face-parts`` stays selectable with all its rules. Left out here: Smiling and Mouth Closed
(``mediapipe`` answers them from a learned mesh and blendshapes), and the colour and texture
rules for facial hair and bushy brows. Hair colour is a rule of thumb recalibrated on 22 faces;
on held-out photos it was right 25% of the time against 58% for always answering the most common
colour. Here it answers only when the hair band shows one dominant colour: at least
:data:`DOMINANT_SHARE` of the band unlike the skin (hair, not forehead or background) and an
interquartile range of lightness of at most :data:`DOMINANT_SPREAD` L* units (one colour, not
hair against a bright wall), and the colour is named with a confidence of at least
:data:`MIN_HAIR_CONFIDENCE` (its measure far from the rules' boundaries). Otherwise it says "Hair Color: unsure" and is not present. When it
answers, the word says that it is a heuristic ("Black Hair (heuristic)").

Landmarks (``landmarks=``, :data:`~s2w_toolkit.attributes.mesh_landmarks.LANDMARK_SOURCES`): with
``"auto"`` (the default) the 68 points come from MediaPipe's 478-point mesh when its file is
installed (``s2w models fetch``), else from dlib's predictor; ``"mesh"`` or ``"dlib68"`` choose.
From the mesh, the points are read off it by a fitted correspondence
(:data:`~s2w_toolkit.attributes.mesh_landmarks.MESH_TO_DLIB68`), so every measure and threshold
keeps its meaning, and the evidence of the nose, lips, eyes, brows and jaw line is drawn from
the mesh's own outlines (:func:`~s2w_toolkit.attributes.mesh_landmarks.mesh_evidence`). The
prediction's model is named with the source: ``face-geometry (mesh)`` or ``face-geometry
(dlib68)``; :attr:`FaceGeometry.sources` lists each face's of the last call. A face the mesh
cannot place (face-presence < 0.5): with ``"auto"`` that face falls back to dlib's points, with a
warning, and the model name says so (``face-geometry (mesh; dlib68 for face 2)``); with
``"mesh"`` the batch is refused, one line (:class:`~s2w_toolkit.errors.NoFaceError`).

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> model = FaceGeometry()
    >>> model.attributes
    ('Big Nose', 'Pointy Nose', 'Big Lips', 'Narrow Eyes', 'Arched Eyebrows', 'Face Shape', 'Hair Color')
    >>> p = FaceGeometry(landmarks="dlib68").predict(np.full((150, 150, 3), 128, np.uint8),
    ...                                               dlib_chip_template(150, 0.25))
    >>> p.rows(0)[-1]["word"], p.rows(0)[-1]["present"], p.models[0]
    ('Hair Color: unsure', False, 'face-geometry (dlib68)')
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .face_mesh import FaceMesh
from .face_parts import THRESHOLDS, FaceParts
from .mesh_landmarks import (LANDMARK_SOURCES, dlib68_from_mesh, load_mesh, mesh_evidence, mesh_part_masks,
                             refuse_unplaced, run_mesh)
from .prediction import AttributePrediction
from .word_regions import declare

#: The columns of ``face-parts`` kept, in its order.
GEOMETRY_COLUMNS = ("Big Nose", "Pointy Nose", "Big Lips", "Narrow Eyes", "Arched Eyebrows", "Face Shape",
                    "Hair Color")
#: Least share of the hair band unlike the skin for a hair colour to be named (most of the band is hair).
DOMINANT_SHARE = 0.5
#: Largest interquartile range of the hair pixels' L* for a hair colour to be named (one colour).
DOMINANT_SPREAD = 25.0
#: Least confidence of the named colour: the measure at least about two rule spreads from every
#: boundary it passed (a colour near a boundary flips with the lighting).
MIN_HAIR_CONFIDENCE = 0.9
HEURISTIC = " (heuristic)"


class FaceGeometry(FaceParts):
    """Geometric face-parts words plus a hair colour that abstains unless unambiguous
    (registered as ``face-geometry``); ``landmarks``: ``"auto"``, ``"mesh"`` or ``"dlib68"``
    (see the module), ``mesh``: a loaded :class:`~s2w_toolkit.attributes.face_mesh.FaceMesh`.

    Example:
        >>> FaceGeometry.name, FaceGeometry.regions["Big Nose"]
        ('face-geometry', ('nose',))
        >>> FaceGeometry(landmarks="dlib68").source, FaceGeometry(landmarks="mesh").source
        ('dlib68', 'mesh')
    """

    name: ClassVar[str] = "face-geometry"
    attributes: ClassVar[tuple[str, ...]] = GEOMETRY_COLUMNS
    regions: ClassVar[dict[str, tuple[str, ...]]] = declare(GEOMETRY_COLUMNS)

    def __init__(self, landmarks: str = "auto", mesh: FaceMesh | None = None) -> None:
        super().__init__(tuple(rule for rule in THRESHOLDS if rule.column in GEOMETRY_COLUMNS))
        if landmarks not in LANDMARK_SOURCES:
            raise ValueError(f"landmarks must be one of {', '.join(LANDMARK_SOURCES)}, not {landmarks!r}")
        self.landmarks = landmarks
        self.mesh = None if landmarks == "dlib68" else mesh if mesh is not None else load_mesh(landmarks)
        #: Where the 68 points come from: ``"mesh"`` or ``"dlib68"``.
        self.source = "mesh" if self.mesh is not None else "dlib68"
        #: Each face's landmark source in the last :meth:`predict` (``"mesh"`` or ``"dlib68"``).
        self.sources: list[str] = []
        self._parts: np.ndarray | None = None

    @classmethod
    def load(cls, weights: str | None = None, landmarks: str = "auto") -> "FaceGeometry":
        """``weights``: a ``face_landmarker.task`` bundle to take the mesh from (default: the installed one)."""
        return cls(landmarks, load_mesh("mesh", Path(weights)) if weights and landmarks != "dlib68" else None)

    def to(self, device: Any) -> "FaceGeometry":
        if self.mesh is not None:
            self.mesh = self.mesh.to(device)
        return self

    def landmarks_for(self, images: np.ndarray, template: Any) -> np.ndarray:
        """The mesh's 68 points for every face, in one batch (dlib's where the mesh places no face)."""
        self._parts = None
        if self.mesh is None:
            self.sources = ["dlib68"] * len(images)
            return super().landmarks_for(images, template)
        found = run_mesh(self.mesh, images, template)
        if self.landmarks == "mesh":
            refuse_unplaced(found)
        points = dlib68_from_mesh(found.points)
        self.sources = ["mesh" if ok else "dlib68" for ok in found.placed]
        lost = np.flatnonzero(~found.placed)
        if len(lost):
            warnings.warn(f"face-geometry: the face mesh places no face in image(s) {', '.join(map(str, lost))} "
                          f"of {len(images)}; dlib's 68 landmarks are used there", stacklevel=4)
            points[lost] = super().landmarks_for(images[lost], template)
        self._parts = mesh_part_masks(found.points, images.shape[1:3])
        return points

    def evidence_for(self, index: int, landmarks: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The mesh's outlines for the parts it has (:func:`~s2w_toolkit.attributes.mesh_landmarks.mesh_evidence`)."""
        if self._parts is None or self.sources[index] != "mesh":
            return masks
        return mesh_evidence(self._parts[index], landmarks, masks)

    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        try:
            prediction = super().predict(images, template)
        finally:
            self._parts = None  # the mesh's part masks of this call only
        lost = [str(i) for i, s in enumerate(self.sources) if s != "mesh"]
        source = ("dlib68" if self.source == "dlib68" or len(lost) == len(self.sources) else
                  f"mesh; dlib68 for face{'s' * (len(lost) > 1)} {', '.join(lost)}" if lost else "mesh")
        prediction.models = [f"{self.name} ({source})"] * len(prediction.names)
        return prediction

    def decide_words(self, measures: dict[str, float]) -> dict[str, dict[str, Any]]:
        share, spread = measures.get("hair_share", math.nan), measures.get("hair_spread", math.nan)
        if not (share >= DOMINANT_SHARE and spread <= DOMINANT_SPREAD):  # NaN fails both: abstain
            measures = {**measures, "hair_lightness": math.nan, "hair_chroma": math.nan}
        words = super().decide_words(measures)
        hair = words["Hair Color"]
        if hair["present"] and hair["confidence"] < MIN_HAIR_CONFIDENCE:
            words["Hair Color"] = {**hair, "word": "Hair Color: unsure", "present": False}
        elif hair["present"]:
            words["Hair Color"] = {**hair, "word": hair["word"] + HEURISTIC}
        return words
