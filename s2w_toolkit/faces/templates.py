"""Alignment templates: where a backbone expects the landmarks of a face to land.

Example:
    >>> t = dlib_chip_template(150, 0.25)
    >>> t.size, t.points.shape
    ((150, 150), (5, 2))
    >>> [round(v, 6) for v in t.face_box()]
    [25.0, 25.0, 125.0, 125.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# dlib's reference positions of its 5-point landmarks (two corners of each eye, base of the
# nose) in a unit face box, from dlib's get_face_chip_details.
_DLIB5_UNIT = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)

_UNIT_EYES = (_DLIB5_UNIT[2:4].mean(axis=0), _DLIB5_UNIT[0:2].mean(axis=0))
_UNIT_EYE_DISTANCE = float(np.linalg.norm(_UNIT_EYES[1] - _UNIT_EYES[0]))
_UNIT_EYE_MID = (_UNIT_EYES[0] + _UNIT_EYES[1]) / 2


@dataclass(frozen=True)
class AlignmentTemplate:
    """Target landmark positions (x, y) in output pixels, and the output size (H, W).

    ``landmarks`` names the landmark predictor the points refer to (``"dlib5"`` or ``"dlib68"``)
    and ``groups`` says which of its points make each template point (their mean).

    Example:
        >>> t = AlignmentTemplate("eyes-nose", (8, 8), np.array([[2.0, 3.0], [6.0, 3.0], [4.0, 6.0]]),
        ...                       groups=((0, 1), (2, 3), (4,)), eyes=((0,), (1,)))
        >>> t.source_points([[0, 0], [2, 2], [5, 1], [7, 1], [4, 5]])  # each group's mean
        array([[1., 1.],
               [6., 1.],
               [4., 5.]])
    """

    name: str
    size: tuple[int, int]
    points: np.ndarray
    landmarks: str = "dlib5"
    groups: tuple[tuple[int, ...], ...] = ((0,), (1,), (2,), (3,), (4,))
    #: Which of :attr:`points` make the image-left and the image-right eye centre (their mean).
    eyes: tuple[tuple[int, ...], tuple[int, ...]] = ((2, 3), (0, 1))

    def source_points(self, landmarks: np.ndarray) -> np.ndarray:
        """The detected points that correspond to :attr:`points`, in the same order."""
        landmarks = np.asarray(landmarks, dtype=np.float64)
        return np.stack([landmarks[list(group)].mean(axis=0) for group in self.groups])

    def face_box(self) -> tuple[float, float, float, float]:
        """Where dlib's face box (left, top, right, bottom) lies in the aligned face: the box that
        dlib's own reference shape fits, placed by the template's eye centres. Landmark
        predictors run on an aligned face with this box."""
        left_eye, right_eye = (self.points[list(idx)].mean(axis=0) for idx in self.eyes)
        width = float(np.linalg.norm(right_eye - left_eye)) / _UNIT_EYE_DISTANCE
        mid = (left_eye + right_eye) / 2
        left, top = mid[0] - _UNIT_EYE_MID[0] * width, mid[1] - _UNIT_EYE_MID[1] * width
        return (float(left), float(top), float(left + width), float(top + width))


def dlib_chip_template(size: int = 150, padding: float = 0.25) -> AlignmentTemplate:
    """dlib's face chip: the 5-point reference shape, padded, scaled to ``size`` pixels."""
    points = (padding + _DLIB5_UNIT) / (2 * padding + 1) * size
    return AlignmentTemplate(name=f"dlib-chip-{size}-pad{padding:g}", size=(size, size), points=points)


# insightface's five-point template for 112x112 ArcFace crops: eye centres (image left, then
# right), nose tip, mouth corners (image left, then right).
_ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def arcface_template(size: int = 112) -> AlignmentTemplate:
    """The standard ArcFace 5-point template, from dlib's 68 landmarks (eyes as their means)."""
    groups = (tuple(range(36, 42)), tuple(range(42, 48)), (30,), (48,), (54,))
    return AlignmentTemplate(name=f"arcface-{size}", size=(size, size), points=_ARCFACE_112 * size / 112.0,
                             landmarks="dlib68", groups=groups, eyes=((0,), (1,)))
