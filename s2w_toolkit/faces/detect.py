"""Face detection and landmarks with dlib's HOG detector and 5-point shape predictor.

Detection runs on a copy of the photo shrunk to at most ``DETECT_MAX_SIDE`` pixels (the HOG
detector's cost grows with the pixel count and a face need not be large to be found); the box
is mapped back and the landmarks are fitted on the full-resolution photo. Photos of up to
``DETECT_PIL_PIXELS`` are shrunk by PIL's bicubic resize (anti-aliased, in uint8: 10x faster
than skimage's float resize, which it replaced, and the same boxes on 17 of 18 dev photos);
larger ones by an integer box reduction in bands of rows, then a bilinear resize, so that a
huge photo is never copied whole. When a large photo yields too few faces, detection is
retried on copies twice as large, up to the scale at which a face of ``DETECT_MIN_FACE`` photo
pixels fills the detector's window (photos of up to 3000 px a side start at that scale).

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
from PIL import Image

from ..errors import NoFaceError
from ..weights.packaged import model_file

DETECT_MAX_SIDE = 800
DETECT_MIN_FACE = 150  # px: in large photos, smaller faces are not searched for (the dlib chip is 150 px)
DETECT_PIL_PIXELS = 8_000_000  # photos up to this size are shrunk in one PIL resize, larger ones in bands
_WINDOW = 80  # px: the smallest face dlib's HOG detector finds without upsampling


@dataclass
class Face:
    """A detected face: box (left, top, right, bottom) and landmarks (K, 2) as (x, y) pixels.

    Example:
        >>> face = Face(box=(10, 20, 50, 80), landmarks=np.zeros((5, 2)), score=1.2)
        >>> face.area, face.landmarks.shape  # detect() returns faces largest area first
        (2400, (5, 2))
    """

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


@lru_cache(maxsize=1)
def frontal_detector():
    """dlib's HOG face detector, built once, on first use (about 0.17 s)."""
    import dlib  # imported here: only commands that detect faces pay for it

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=2)
def landmark_predictor(landmarks: str):
    """dlib's ``landmarks`` shape predictor (``dlib5`` or ``dlib68``), read once; no detector is built."""
    import dlib

    return dlib.shape_predictor(str(model_file(PREDICTOR_FILES[landmarks])))


def _dlib_models(landmarks: str):
    import dlib

    return dlib, frontal_detector(), landmark_predictor(landmarks)


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """An RGB uint8 ``image`` scaled by ``scale`` (< 1) with anti-aliasing, as uint8 (see the
    module docs for how).

    Example:
        >>> shrink(np.zeros((1000, 600, 3), np.uint8), 0.1).shape
        (100, 60, 3)
        >>> shrink(np.zeros((4000, 3000, 3), np.uint8), 0.1).shape
        (400, 300, 3)
    """
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if h * w <= DETECT_PIL_PIXELS:
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    factor = int(1.0 / scale / 2.0)  # reduce by this much first, as PIL's reducing_gap=2 would
    if factor < 2:
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    band = factor * max(1, 1024 // factor)  # rows per band, a multiple of the factor: bands reduce as a whole would
    parts = [np.asarray(Image.fromarray(image[top:top + band]).reduce(factor)) for top in range(0, h, band)]
    reduced = Image.fromarray(np.concatenate(parts))
    return np.asarray(reduced.resize(size, Image.Resampling.BILINEAR, box=(0, 0, w / factor, h / factor)))


class FaceDetector:
    """Finds faces in an RGB uint8 photo, largest first, with ``"dlib5"`` or ``"dlib68"`` landmarks.

    Example:
        >>> FaceDetector().finest_scale
        0.26666666666666666
    """

    def __init__(self, max_side: int = DETECT_MAX_SIDE, upsample: int = 1, landmarks: str = "dlib5",
                 min_face: int = DETECT_MIN_FACE) -> None:
        if landmarks not in PREDICTOR_FILES:
            raise ValueError(f"unknown landmark set {landmarks!r}; known: {', '.join(PREDICTOR_FILES)}")
        self.max_side = max_side
        self.upsample = upsample
        self.landmarks = landmarks
        self.min_face = min_face

    @property
    def finest_scale(self) -> float:
        """The largest detection scale tried: a ``min_face`` face then fills the detector's window."""
        return min(1.0, _WINDOW / 2 ** self.upsample / self.min_face)

    def detect(self, image: np.ndarray, min_faces: int = 1) -> list[Face]:
        """Faces of ``image``, largest first; a large photo with fewer than ``min_faces`` faces
        at the first scale is searched again at finer ones (see the module docs)."""
        dlib, detector, predictor = _dlib_models(self.landmarks)
        h, w = image.shape[:2]
        scale, best = min(1.0, self.max_side / max(h, w)), None
        while True:
            small = image if scale >= 1.0 else shrink(image, scale)
            rects, scores, _ = detector.run(np.ascontiguousarray(small), self.upsample, 0.0)
            if best is None or len(rects) > len(best[0]):
                best = rects, scores, scale
            if len(rects) >= min_faces or scale >= self.finest_scale:
                break
            scale = min(self.finest_scale, 2.0 * scale)
        rects, scores, scale = best
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
        faces = self.detect(image, min_faces=index + 1)
        if not faces:
            raise NoFaceError(f"{source}: no face found (use --aligned for pre-cropped faces)")
        if index >= len(faces):
            raise NoFaceError(f"{source}: --face-index {index} asked, but only {len(faces)} face(s) found")
        return faces[index]
