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

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> model = FaceGeometry()
    >>> model.attributes
    ('Big Nose', 'Pointy Nose', 'Big Lips', 'Narrow Eyes', 'Arched Eyebrows', 'Face Shape', 'Hair Color')
    >>> p = model.predict(np.full((150, 150, 3), 128, np.uint8), dlib_chip_template(150, 0.25))
    >>> p.rows(0)[-1]["word"], p.rows(0)[-1]["present"]
    ('Hair Color: unsure', False)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .face_parts import THRESHOLDS, FaceParts
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
    (registered as ``face-geometry``).

    Example:
        >>> FaceGeometry.name, FaceGeometry.regions["Big Nose"]
        ('face-geometry', ('nose',))
    """

    name: ClassVar[str] = "face-geometry"
    attributes: ClassVar[tuple[str, ...]] = GEOMETRY_COLUMNS
    regions: ClassVar[dict[str, tuple[str, ...]]] = declare(GEOMETRY_COLUMNS)

    def __init__(self) -> None:
        super().__init__(tuple(rule for rule in THRESHOLDS if rule.column in GEOMETRY_COLUMNS))

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
