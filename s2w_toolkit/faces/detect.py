"""Face detection and landmarks with dlib's HOG detector and 5-point shape predictor.

Detection runs on a copy of the photo shrunk to at most ``DETECT_MAX_SIDE`` pixels (the HOG
detector's cost grows with the pixel count and a face need not be large to be found); the box
is mapped back and the landmarks are fitted on the full-resolution photo.

Example:
    >>> from s2w_toolkit.io.images import read_image
    >>> from s2w_toolkit.data import demo_image
    >>> faces = FaceDetector().detect(read_image(demo_image("obama")))
    >>> len(faces), faces[0].landmarks.shape
    (1, (5, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from skimage.transform import resize

from ..errors import NoFaceError
from .model_files import model_file

DETECT_MAX_SIDE = 800


@dataclass
class Face:
    """A detected face: box (left, top, right, bottom) and landmarks (K, 2) as (x, y) pixels."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float = 0.0

    @property
    def area(self) -> int:
        left, top, right, bottom = self.box
        return max(0, right - left) * max(0, bottom - top)


PREDICTOR_FILES = {
    "dlib5": "shape_predictor_5_face_landmarks.dat",
    "dlib68": "shape_predictor_68_face_landmarks.dat",
}


@lru_cache(maxsize=2)
def _dlib_models(landmarks: str):
    import dlib  # imported here: only commands that detect faces pay for it

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_file(PREDICTOR_FILES[landmarks])))
    return dlib, detector, predictor


class FaceDetector:
    """Finds faces in an RGB uint8 photo, largest first, with ``"dlib5"`` or ``"dlib68"`` landmarks."""

    def __init__(self, max_side: int = DETECT_MAX_SIDE, upsample: int = 1, landmarks: str = "dlib5") -> None:
        if landmarks not in PREDICTOR_FILES:
            raise ValueError(f"unknown landmark set {landmarks!r}; known: {', '.join(PREDICTOR_FILES)}")
        self.max_side = max_side
        self.upsample = upsample
        self.landmarks = landmarks

    def detect(self, image: np.ndarray) -> list[Face]:
        dlib, detector, predictor = _dlib_models(self.landmarks)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image
        if scale < 1.0:
            small = resize(image, (round(h * scale), round(w * scale)), anti_aliasing=True, preserve_range=True)
            small = small.astype(np.uint8)
        rects, scores, _ = detector.run(np.ascontiguousarray(small), self.upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores):
            box = tuple(int(round(v / scale)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))
            shape = predictor(image, dlib.rectangle(*box))
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            faces.append(Face(box=box, landmarks=points, score=float(score)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def find(self, image: np.ndarray, index: int = 0, source: str = "image") -> Face:
        """The ``index``-th largest face, or a :class:`NoFaceError` naming ``source``."""
        faces = self.detect(image)
        if not faces:
            raise NoFaceError(f"{source}: no face found (use --aligned for pre-cropped faces)")
        if index >= len(faces):
            raise NoFaceError(f"{source}: --face-index {index} asked, but only {len(faces)} face(s) found")
        return faces[index]
