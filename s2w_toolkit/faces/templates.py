"""Alignment templates: where a backbone expects the landmarks of a face to land.

Example:
    >>> t = dlib_chip_template(150, 0.25)
    >>> t.size, t.points.shape
    ((150, 150), (5, 2))
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


@dataclass(frozen=True)
class AlignmentTemplate:
    """Target landmark positions (x, y) in output pixels, and the output size (H, W).

    ``landmarks`` names the landmark set the points refer to (``"dlib5"``: dlib's 5-point
    predictor, in its order).
    """

    name: str
    size: tuple[int, int]
    points: np.ndarray
    landmarks: str = "dlib5"


def dlib_chip_template(size: int = 150, padding: float = 0.25) -> AlignmentTemplate:
    """dlib's face chip: the 5-point reference shape, padded, scaled to ``size`` pixels."""
    points = (padding + _DLIB5_UNIT) / (2 * padding + 1) * size
    return AlignmentTemplate(name=f"dlib-chip-{size}-pad{padding:g}", size=(size, size), points=points)
