"""Landmarks of faces that are already aligned, in the aligned face's own pixels.

Attribute models receive faces aligned to a backbone's template. dlib's shape predictor runs
on each of them inside the face box that the template implies
(:meth:`~s2w_toolkit.faces.templates.AlignmentTemplate.face_box`), so no detector is needed
and the points are in the frame in which attribute maps are returned.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> points = aligned_landmarks(face, net.template, "dlib68")
    >>> eyes = points[0, 36:48].mean(axis=0)  # where the template puts the eyes: (74, 47)
    >>> points.shape, bool(abs(eyes - (74, 47)).max() < 3)
    ((1, 68, 2), True)
"""

from __future__ import annotations

import numpy as np

from .detect import landmark_predictor
from .templates import AlignmentTemplate, dlib_chip_template


def default_template(faces: np.ndarray) -> AlignmentTemplate:
    """The template assumed when none is given: dlib's chip (padding 0.25) at the faces' size."""
    return dlib_chip_template(int(faces.shape[-3]), 0.25)


def aligned_landmarks(faces: np.ndarray, template: AlignmentTemplate | None = None,
                      landmarks: str = "dlib68") -> np.ndarray:
    """``(N, K, 2)`` landmark (x, y) pixels of aligned RGB uint8 faces ``(N, H, W, 3)`` or ``(H, W, 3)``."""
    faces = np.asarray(faces, dtype=np.uint8)
    if faces.ndim == 3:
        faces = faces[None]
    template = template or default_template(faces)
    import dlib

    predictor = landmark_predictor(landmarks)  # the face box is the template's: no detector is needed
    box = dlib.rectangle(*(int(round(v)) for v in template.face_box()))
    out = []
    for face in faces:
        shape = predictor(np.ascontiguousarray(face), box)
        out.append([[p.x, p.y] for p in shape.parts()])
    return np.asarray(out, dtype=np.float64)
