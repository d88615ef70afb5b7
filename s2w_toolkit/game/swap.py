"""Planting one face's region on another: the donor's region is carried onto the mate by the
similarity transform of that region's landmarks, then blended (:mod:`~s2w_toolkit.game.blend`).

The mask that is blended is the union of the mate's region and the donor's region as placed, so
the mate's own feature is covered and the donor's is whole. Pixels outside the blend's support
are the mate's, bit for bit: the support is the ground truth of where the faces now differ.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> mate, donor = (load_face(demo_image(n), net)[0] for n in ("obama", "biden"))
    >>> points = aligned_landmarks(np.stack([mate, donor]), net.template)
    >>> swap = place_region(mate, points[0], donor, points[1], "nose")
    >>> bool((swap.image[~swap.support] == mate[~swap.support]).all()), bool(swap.support.any())
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import S2WError
from .blend import blend
from .regions import REGIONS, Region, region_mask

#: The smallest and largest scale of a region's transform from donor to mate: outside, the
#: landmarks cannot place the region (a failed landmark fit, a profile face).
SCALE_RANGE = (0.5, 2.0)


@dataclass
class Swap:
    """One planted region: the swapped face, the blend's support (the pixels that may differ
    from the mate), the region's mask on the mate, and the transform's scale.

    Example:
        >>> s = Swap(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), bool), np.zeros((2, 2), bool), 1.0)
        >>> s.support_fraction
        0.0
    """

    image: np.ndarray
    support: np.ndarray
    region_mask: np.ndarray
    scale: float

    @property
    def support_fraction(self) -> float:
        """The share of the face's pixels that the swap may change."""
        return float(self.support.mean())


def _estimate(kind: type, src: np.ndarray, dst: np.ndarray) -> Any:
    """The transform of ``kind`` that best maps ``src`` onto ``dst``, or None (scikit-image
    0.26's ``from_estimate`` where it exists, ``estimate`` before it)."""
    if hasattr(kind, "from_estimate"):
        found = kind.from_estimate(src, dst)
        return found if found else None
    found = kind()
    return found if found.estimate(src, dst) else None


def place_region(mate: np.ndarray, mate_points: np.ndarray, donor: np.ndarray, donor_points: np.ndarray,
                 region: str | Region, blend_method: str = "poisson") -> Swap:
    """Carry ``region`` of ``donor`` onto ``mate`` (aligned RGB uint8 faces of one size, with
    their 68 landmarks) and blend it in; an :class:`~s2w_toolkit.errors.S2WError` when the
    landmarks cannot place it."""
    from skimage.transform import SimilarityTransform, warp

    region = REGIONS[region] if isinstance(region, str) else region
    idx = region.points()
    to_donor = _estimate(SimilarityTransform, mate_points[idx], donor_points[idx])
    if to_donor is None or not np.isfinite(to_donor.params).all():
        raise S2WError(f"the {region.name} landmarks cannot place the region (degenerate transform)")
    scale = float(to_donor.scale)
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        raise S2WError(f"the {region.name} landmarks cannot place the region (scale {scale:.2f} between the faces)")
    shape = mate.shape[:2]
    placed = warp(donor.astype(np.float64), to_donor, output_shape=shape, order=1, mode="edge", preserve_range=True)
    placed = np.clip(np.round(placed), 0, 255).astype(np.uint8)
    donor_in_mate = to_donor.inverse(donor_points)
    own = region_mask(region, mate_points, shape)
    mask = own | region_mask(region, donor_in_mate, shape)
    image, support = blend(mate, placed, mask, blend_method)
    return Swap(image, support, own, scale)
