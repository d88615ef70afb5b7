"""Perturbed copies of a pair, whose evidence Sim2Word pools with the photo's.

``stability`` = K explains the pair again on K perturbed copies, all in one batch with the
original (one identity pass, one attribute pass, one stream of erased images):

* perturbation 1 re-saves both photos as JPEG at quality 90; perturbations 2 .. K shift both
  photos by 2 px in a direction drawn (seeded, without repetition while there are directions
  left) from the eight neighbours, the edge pixels repeated;
* a pair loaded from photos (``Pair.info[side]["source"]``, not ``--aligned``) is perturbed
  *before* detection and alignment, so the landmarks are found again; an aligned pair (or one
  whose photo cannot be read) has its aligned faces perturbed instead.

Each word is then judged by one test over the photo and its copies
(:func:`~s2w_toolkit.sim2word.support.judge_runs`); its ``agreement`` is the fraction of them in
which it tops its direction's ranking.

Example:
    >>> import numpy as np
    >>> face = np.zeros((20, 20, 3), np.uint8); face[5, 5] = 255
    >>> moved = shift(face, (2, -2))
    >>> bool(moved[7, 3].all()), perturbation_names(4, seed=0)[0]
    (True, 'jpeg90')
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ..interfaces import Pair

#: The eight 2-px shifts (dy, dx) a perturbation draws from.
SHIFTS = tuple((dy, dx) for dy in (-2, 0, 2) for dx in (-2, 0, 2) if dy or dx)


def jpeg(image: np.ndarray, quality: int = 90) -> np.ndarray:
    """``image`` re-saved as JPEG at ``quality`` and decoded again (RGB uint8)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def shift(image: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """``image`` moved by ``offset`` = (dy, dx) pixels, the edge pixels repeated."""
    dy, dx = offset
    h, w = image.shape[:2]
    padded = np.pad(image, ((abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0)), mode="edge")
    top, left = abs(dy) - dy, abs(dx) - dx
    return padded[top:top + h, left:left + w]


def perturbation_names(count: int, seed: int = 0) -> list[str]:
    """The ``count`` perturbations: ``jpeg90`` then ``shift(dy,dx)`` s drawn from :data:`SHIFTS`."""
    rng = np.random.default_rng((seed, 7))
    order = [SHIFTS[i] for i in rng.permutation(len(SHIFTS))]
    shifts = [order[i % len(order)] for i in range(max(0, count - 1))]
    return (["jpeg90"] if count > 0 else []) + [f"shift({dy},{dx})" for dy, dx in shifts]


def _apply(image: np.ndarray, name: str) -> np.ndarray:
    if name == "jpeg90":
        return jpeg(image)
    dy, dx = (int(v) for v in name[len("shift("):-1].split(","))
    return shift(image, (dy, dx))


def _perturbed_face(pair: Pair, side: str, name: str, backbone: Any) -> tuple[np.ndarray, str]:
    """The aligned face of ``side`` after perturbation ``name`` and how it was made."""
    info = (pair.info or {}).get(side, {})
    face = pair.image_a if side == "a" else pair.image_b
    source = info.get("source")
    if source and not info.get("aligned", True):
        from ..errors import S2WError
        from ..faces.align import align_face
        from ..faces.detect import FaceDetector
        from ..io.images import read_image

        try:
            photo = _apply(read_image(source), name)
            found = FaceDetector(landmarks=backbone.template.landmarks).find(photo, info.get("face_index", 0),
                                                                              source=source)
            return align_face(photo, found.landmarks, backbone.template), "photo"
        except (S2WError, OSError):
            pass
    return _apply(face, name), "aligned face"


def perturbed_pairs(pair: Pair, backbone: Any, count: int, seed: int = 0) -> list[tuple[str, np.ndarray, str]]:
    """``(name, faces (2, H, W, 3), how)`` for each of the ``count`` perturbations of ``pair``."""
    out = []
    for name in perturbation_names(count, seed):
        (a, how_a), (b, how_b) = (_perturbed_face(pair, side, name, backbone) for side in ("a", "b"))
        out.append((name, np.stack([a, b]), how_a if how_a == how_b else f"{how_a}/{how_b}"))
    return out
