"""Face regions of the swap game, placed by dlib's 68 landmarks: where a region lies on a face,
and the points that carry it from one face to another.

A region is one or more landmark groups (both eyes, both eyebrows, the nose, the mouth). Its
mask on a face is the union of each group's convex hull, grown by a margin that scales with the
distance between the eyes, so that it covers the feature and a little skin around it.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> points = aligned_landmarks(face, net.template)[0]
    >>> mask = region_mask("nose", points, (150, 150))
    >>> mask.dtype, bool(0.02 < mask.mean() < 0.15), bool(mask[int(points[30, 1]), int(points[30, 0])])
    (dtype('bool'), True, True)
    >>> sorted(REGIONS)
    ['eyebrows', 'eyes', 'mouth', 'nose']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import S2WError


@dataclass(frozen=True)
class Region:
    """A named face region: its dlib-68 landmark groups, and the margin (in inter-ocular
    distances) by which its hulls grow.

    Example:
        >>> REGIONS["eyes"].points()[:3].tolist()
        [36, 37, 38]
    """

    name: str
    groups: tuple[tuple[int, ...], ...]
    margin: float

    def points(self) -> np.ndarray:
        """The indices of every landmark of the region."""
        return np.array([i for group in self.groups for i in group], dtype=np.int64)


def _span(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1))


#: The regions the game can swap, by name. Margins: eyes and eyebrows grow more, for their
#: hulls are thin (an eyebrow's five points are almost a line).
REGIONS: dict[str, Region] = {
    "eyes": Region("eyes", (_span(36, 41), _span(42, 47)), 0.18),
    "eyebrows": Region("eyebrows", (_span(17, 21), _span(22, 26)), 0.14),
    "nose": Region("nose", (_span(27, 35),), 0.10),
    "mouth": Region("mouth", (_span(48, 59),), 0.12),
}


def parse_regions(text: str) -> list[Region]:
    """Regions from a comma-separated list of names; an unknown name is a one-line error."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in REGIONS]
    if unknown or not names:
        problem = f"unknown region {unknown[0]!r}" if unknown else "no region given"
        raise S2WError(f"{problem}; known: {', '.join(sorted(REGIONS))}")
    return [REGIONS[name] for name in dict.fromkeys(names)]


def interocular(points: np.ndarray) -> float:
    """The distance between the two eye centres of 68 landmarks, in pixels."""
    return float(np.linalg.norm(points[36:42].mean(axis=0) - points[42:48].mean(axis=0)))


def region_mask(region: str | Region, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The boolean mask, of ``shape`` (rows, columns), of ``region`` on a face with 68 landmarks
    ``points`` ((x, y) pixels): the union of its groups' convex hulls, grown by its margin."""
    from scipy import ndimage as ndi
    from skimage.draw import polygon
    from skimage.morphology import convex_hull_image, disk

    region = REGIONS[region] if isinstance(region, str) else region
    mask = np.zeros(shape, dtype=bool)
    for group in region.groups:
        xy = points[list(group)]
        rr, cc = polygon(xy[:, 1], xy[:, 0], shape)
        outline = np.zeros(shape, dtype=bool)
        outline[rr, cc] = True
        ends = np.clip(np.round(xy).astype(int), 0, [shape[1] - 1, shape[0] - 1])
        outline[ends[:, 1], ends[:, 0]] = True  # a flat hull (an eyebrow) still has its points
        mask |= convex_hull_image(outline)
    radius = max(1, int(round(region.margin * interocular(points))))
    return ndi.binary_dilation(mask, structure=disk(radius))
