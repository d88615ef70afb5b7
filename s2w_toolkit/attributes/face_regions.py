"""Face regions (eyes, nose, mouth, cheeks, forehead, hair...) as masks built from dlib's 68 landmarks.

These are geometric heuristics, not a segmentation model: each region is a polygon drawn from
the landmarks (and, above the eyebrows where dlib has no points, from face proportions), so a
region is only as good as the landmarks and the assumption that the face is roughly frontal.
The masks are in the frame of the image the landmarks were found in, so they move with the face.

Regions (the keys of :func:`region_masks`, in :data:`REGIONS` order):

* ``eyes``: both eye outlines (points 36-47), enlarged 1.4x about each eye's centre;
* ``eyebrows``: a band along each brow line (17-21, 22-26);
* ``nose``: from the bridge (28) down to the nostrils (31-35), flaring at the wings;
* ``mouth``: the outer lip outline (48-59), enlarged 1.1x;
* ``upper_lip``: between the nose's base (31-35) and the top of the upper lip (48-54);
* ``jaw``: the lower face below the mouth corners, inside the jaw line (inset a little), less
  the mouth;
* ``cheeks``: each side, between the eye's lower edge, the nose, the mouth corner and the jaw;
* ``forehead``: above the eyebrows, under the upper half of a superellipse (a rounded box,
  like a skull's outline) as wide as the face (points 0-16) and :data:`FOREHEAD_HEIGHT` of the
  eyebrow-to-chin height tall, shrunk to :data:`HAIRLINE` of that; clipped to the image;
* ``hair``: a band from the forehead's edge outwards (:data:`HAIR_BAND`) down to the eyebrows'
  level (crown and temples), clipped to the image. On dlib's 150 px chip only the top corners
  and temples are in the picture, and the band may hold background;
* ``jawline``: a band along the face outline (points 0-16).

Evidence regions, one per word where several words measure one part (so that no two words
share one mask):

* ``nose_ridge``: a band along the bridge (27-30) ending in a disc at the tip (30): Pointy Nose;
* ``nose_wings``: the nostrils and wings, around the nose base (31-35): Big Nose;
* ``lips``: the lips' flesh, between the outer (48-59) and inner (60-67) outlines: Big Lips;
* ``mouth_corners``: a disc at each mouth corner (48, 54): Smiling;
* ``mouth_gap``: a band along the line where the lips meet (inner outline 60-67): Mouth Closed;
* ``brow_arch``: the middle third of each brow band (points 18-20, 23-25), where an arch
  peaks: Arched Eyebrows (``eyebrows``, the whole band, is Bushy Eyebrows').

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> points = mean_face_landmarks(dlib_chip_template(150, 0.25))
    >>> masks = region_masks(points, (150, 150))
    >>> sorted(masks) == sorted(REGIONS), masks["nose"].shape, float(masks["nose"].max())
    (True, (150, 150), 1.0)
    >>> y, x = centroid(masks["nose"])
    >>> bool(abs(x - points[30, 0]) < 3 and abs(y - points[30, 1]) < 5)
    True
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path as MplPath
from skimage.filters import gaussian

#: Region names, in the order :func:`region_masks` returns them.
REGIONS = ("eyes", "eyebrows", "nose", "mouth", "upper_lip", "jaw", "cheeks", "forehead", "hair", "jawline",
           "nose_ridge", "nose_wings", "lips", "mouth_corners", "mouth_gap", "brow_arch")

#: Forehead height as a fraction of the eyebrow-to-chin height. In an average adult face the
#: hairline-brow, brow-nose base and nose base-chin thirds are about equal, so the forehead is
#: about half the brow-to-chin height; 0.55 leaves a little room for the hairline's curve.
FOREHEAD_HEIGHT = 0.55

#: How far the hair band reaches beyond the forehead's outline, in inter-ocular distances
#: (sideways at the temples, upwards at the crown).
HAIR_BAND = (0.18, 0.35)

#: The forehead (and the hair band's inner edge) is this fraction of the superellipse: the
#: hairline at the temples usually lies a little inside the face's widest outline.
HAIRLINE = 0.92

#: Edge blur of the returned maps (Gaussian sigma), in inter-ocular distances.
EDGE_BLUR = 0.02

# A typical frontal face's 68 points in dlib's unit face box (x, y; the jaw reaches outside it):
# the mean of the four demo faces' points, rounded, with the mouth closed. Only used to draw masks
# and measure geometry without running a landmark predictor (doctests, synthetic tests).
_MEAN_FACE = np.array([
    [-0.12, 0.31], [-0.11, 0.47], [-0.08, 0.64], [-0.05, 0.79], [0.00, 0.94], [0.10, 1.07], [0.21, 1.18],
    [0.34, 1.25], [0.51, 1.27], [0.68, 1.25], [0.81, 1.17], [0.92, 1.05], [1.00, 0.92], [1.05, 0.77],
    [1.08, 0.62], [1.09, 0.46], [1.09, 0.30], [-0.01, 0.17], [0.06, 0.07], [0.17, 0.03], [0.29, 0.03],
    [0.40, 0.07], [0.57, 0.07], [0.69, 0.03], [0.81, 0.04], [0.93, 0.08], [0.99, 0.18], [0.49, 0.18],
    [0.50, 0.28], [0.50, 0.38], [0.50, 0.48], [0.35, 0.57], [0.42, 0.59], [0.50, 0.60], [0.57, 0.58],
    [0.64, 0.57], [0.12, 0.23], [0.18, 0.19], [0.26, 0.18], [0.33, 0.23], [0.26, 0.24], [0.18, 0.24],
    [0.65, 0.23], [0.72, 0.19], [0.80, 0.19], [0.86, 0.23], [0.80, 0.24], [0.72, 0.24], [0.24, 0.82],
    [0.33, 0.75], [0.42, 0.72], [0.50, 0.73], [0.58, 0.72], [0.68, 0.75], [0.77, 0.81], [0.68, 0.87],
    [0.59, 0.89], [0.51, 0.90], [0.43, 0.89], [0.33, 0.87], [0.27, 0.82], [0.43, 0.81], [0.50, 0.81],
    [0.58, 0.81], [0.73, 0.81], [0.58, 0.82], [0.50, 0.82], [0.43, 0.82],
])


def mean_face_landmarks(template) -> np.ndarray:
    """``(68, 2)`` landmarks of a typical frontal face placed in ``template``'s face box
    (an :class:`~s2w_toolkit.faces.templates.AlignmentTemplate`); for drawing masks without
    a landmark predictor."""
    left, top, right, bottom = template.face_box()
    return _MEAN_FACE * np.array([right - left, bottom - top]) + np.array([left, top])


class FaceFrame:
    """The face's own axes from 68 landmarks: eye centres, inter-ocular distance ``iod``,
    ``ex`` (image-left eye towards image-right eye) and ``ey`` (towards the chin).

    Example:
        >>> points = np.zeros((68, 2))
        >>> points[42:48] = [3.0, 4.0]  # a tilted face: right eye 3 px right of and 4 px below the left one
        >>> frame = FaceFrame(points)
        >>> frame.iod, frame.ex.tolist(), frame.ey.tolist()
        (5.0, [0.6, 0.8], [-0.8, 0.6])
        >>> bool(np.allclose(frame.along(points[42]), [5.0, 0.0]))  # one IOD along ex, level along ey
        True
    """

    def __init__(self, landmarks: np.ndarray) -> None:
        p = np.asarray(landmarks, dtype=np.float64)
        if p.shape != (68, 2):
            raise ValueError(f"expected (68, 2) dlib landmarks, got {p.shape}")
        self.points = p
        self.left_eye = p[36:42].mean(axis=0)
        self.right_eye = p[42:48].mean(axis=0)
        d = self.right_eye - self.left_eye
        self.iod = max(float(np.hypot(*d)), 1e-6)
        self.ex = d / self.iod
        self.ey = np.array([-self.ex[1], self.ex[0]])

    def along(self, q: np.ndarray) -> np.ndarray:
        """Coordinates of points ``q`` (..., 2) along ``ex`` and ``ey`` (pixels, from the image origin)."""
        q = np.asarray(q, dtype=np.float64)
        return np.stack([q @ self.ex, q @ self.ey], axis=-1)

    def point(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Image points from coordinates along ``ex`` (``u``) and ``ey`` (``v``)."""
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        return u[..., None] * self.ex + v[..., None] * self.ey

    def forehead_outline(self) -> tuple[np.ndarray, float, float]:
        """Centre (x, y) and semi-axes (along ``ex``, along ``ey``) of the outline above the
        eyebrows (see :meth:`arc`): centred between the face sides (points 0 and 16) at the
        eyebrows' level, half the face wide, :data:`FOREHEAD_HEIGHT` of the eyebrow-to-chin
        height tall."""
        uv = self.along(self.points)
        u0, u16 = uv[0, 0], uv[16, 0]
        brow_v = uv[17:27, 1].mean()
        chin_v = uv[8, 1]
        centre = self.point(np.array((u0 + u16) / 2), np.array(brow_v))
        return centre, abs(u16 - u0) / 2, FOREHEAD_HEIGHT * max(chin_v - brow_v, 1e-6)

    def arc(self, a: float, b: float, centre: np.ndarray, start: float, stop: float, n: int = 33) -> np.ndarray:
        """Points of the upper half of the superellipse ``|u/a|^3 + |v/b|^3 = 1`` about ``centre``
        (flatter on top and fuller at the temples than an ellipse, like a skull's outline), for
        the angle t from ``start`` to ``stop`` (0: towards ``ex``, pi/2: top, pi: against ``ex``)."""
        t = np.linspace(start, stop, n)
        c, s = np.cos(t), np.abs(np.sin(t))
        u = np.sign(c) * np.abs(c) ** (2 / 3) * a
        return centre + u[:, None] * self.ex - (s ** (2 / 3) * b)[:, None] * self.ey


def _scaled(q: np.ndarray, factor: float) -> np.ndarray:
    c = q.mean(axis=0)
    return c + (q - c) * factor


def _inset(q: np.ndarray, towards: np.ndarray, distance: float) -> np.ndarray:
    d = towards - q
    n = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
    return q + d / n * np.minimum(distance, n)


def _band(line: np.ndarray, above: float, below: float, frame: FaceFrame) -> np.ndarray:
    """Polygon of a band ``above`` pixels above (against ``ey``) and ``below`` pixels below a polyline."""
    return np.concatenate([line - above * frame.ey, (line + below * frame.ey)[::-1]])


def _thick_line(line: np.ndarray, half_width: float) -> np.ndarray:
    """Polygon of a band of ``half_width`` pixels on both sides of a polyline."""
    tangent = np.gradient(line, axis=0)
    tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-6)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return np.concatenate([line + half_width * normal, (line - half_width * normal)[::-1]])


def _disc(centre: np.ndarray, radius: float, n: int = 24) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return centre + radius * np.stack([np.cos(t), np.sin(t)], axis=1)


def region_polygons(landmarks: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The polygons (x, y) of every region; a region may be several polygons (both eyes) and
    ``jaw`` is cut further by :func:`region_masks` (below the mouth corners, less the mouth)."""
    f = FaceFrame(landmarks)
    p, iod = f.points, f.iod
    down = 0.10 * iod * f.ey
    # Eyebrows: dlib's brow points run along the brow's upper middle.
    brows = [_band(p[17:22], 0.07 * iod, 0.09 * iod, f), _band(p[22:27], 0.07 * iod, 0.09 * iod, f)]
    # Nose: bridge (28) to wings and base (31-35), wings pushed out and up a little.
    wing = 0.06 * iod * f.ex
    lift = 0.15 * iod * f.ey
    nose = np.stack([p[28] - 0.07 * iod * f.ex, p[31] - wing - lift, p[31] - wing, *p[32:35], p[35] + wing,
                     p[35] + wing - lift, p[28] + 0.07 * iod * f.ex])
    upper_lip = np.concatenate([p[31:36] + 0.04 * iod * f.ey, p[48:55][::-1]])
    # Cheeks: lower eyelid (moved down), nose side, mouth corner, jaw (inset).
    centre = p[30]
    margin = 0.10 * iod * f.ex
    left_cheek = np.concatenate([p[[36, 41, 40]] + down, [p[31] - margin - 0.05 * iod * f.ey, p[48] - margin],
                                 _inset(p[[3, 2, 1]], centre, 0.10 * iod)])
    right_cheek = np.concatenate([p[[45, 46, 47]] + down, [p[35] + margin - 0.05 * iod * f.ey, p[54] + margin],
                                  _inset(p[[13, 14, 15]], centre, 0.10 * iod)])
    # Forehead: under the superellipse, above the eyebrows (raised a little above the brow band).
    c, a, b = f.forehead_outline()
    brow_top = p[17:27] - 0.10 * iod * f.ey
    c_u = f.along(c)[0]
    base_v = f.along(brow_top)[[0, -1], 1]
    forehead = np.concatenate([f.arc(a * HAIRLINE, b * HAIRLINE, c, 0.0, np.pi),
                               [f.point(c_u - a * HAIRLINE, base_v[0])], brow_top,
                               [f.point(c_u + a * HAIRLINE, base_v[1])]])
    side, up = HAIR_BAND
    hair = np.concatenate([f.arc(a + side * iod, b + up * iod, c, 0.0, np.pi),
                           f.arc(a * HAIRLINE, b * HAIRLINE, c, np.pi, 0.0)])
    jaw = _inset(p[0:17], p[57], 0.06 * iod)
    wings = np.stack([p[31] - wing - lift, p[31] - wing, *p[32:35], p[35] + wing, p[35] + wing - lift,
                      p[30] + 0.08 * iod * f.ex, p[30] - 0.08 * iod * f.ex])
    return {
        "nose_ridge": [_thick_line(p[27:31], 0.06 * iod), _disc(p[30], 0.10 * iod)],
        "nose_wings": [wings],
        "lips": [_scaled(p[48:60], 1.1)],  # less the inner outline, in binary_masks
        "mouth_corners": [_disc(p[48], 0.11 * iod), _disc(p[54], 0.11 * iod)],
        "mouth_gap": [_thick_line(p[60:65], 0.04 * iod), _thick_line(p[[64, 65, 66, 67, 60]], 0.04 * iod)],
        "brow_arch": [_band(p[18:21], 0.07 * iod, 0.09 * iod, f), _band(p[23:26], 0.07 * iod, 0.09 * iod, f)],
        "eyes": [_scaled(p[36:42], 1.4), _scaled(p[42:48], 1.4)],
        "eyebrows": brows,
        "nose": [nose],
        "mouth": [_scaled(p[48:60], 1.1)],
        "upper_lip": [upper_lip],
        "jaw": [jaw],
        "cheeks": [left_cheek, right_cheek],
        "forehead": [forehead],
        "hair": [hair],
        "jawline": [_thick_line(p[0:17], 0.08 * iod)],
    }


def _fill(polygons: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside any of the (x, y) polygons (the rule of
    ``skimage.draw.polygon``), tested only inside each polygon's bounding box; about 5x faster."""
    mask = np.zeros(size, dtype=bool)
    for poly in polygons:
        x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int), 0)
        x1 = min(int(np.ceil(poly[:, 0].max())) + 1, size[1])
        y1 = min(int(np.ceil(poly[:, 1].max())) + 1, size[0])
        if x1 <= x0 or y1 <= y0 or len(poly) < 3:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        inside = MplPath(poly).contains_points(np.column_stack([xs.ravel(), ys.ravel()]))
        mask[y0:y1, x0:x1] |= inside.reshape(y1 - y0, x1 - x0)
    return mask


def binary_masks(landmarks: np.ndarray, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Boolean ``(H, W)`` masks of every region (no edge blur), for measuring pixels."""
    size = (int(size[0]), int(size[1]))
    f = FaceFrame(landmarks)
    masks = {name: _fill(polys, size) for name, polys in region_polygons(landmarks).items()}
    # The jaw region keeps only the lower face: below the mouth corners' line, less the mouth.
    ys, xs = np.mgrid[0:size[0], 0:size[1]]
    v = xs * f.ey[0] + ys * f.ey[1]
    corners_v = f.along(f.points[[48, 54]])[:, 1].mean()
    masks["jaw"] &= (v >= corners_v) & ~masks["mouth"]
    masks["forehead"] &= ~masks["eyebrows"]
    masks["upper_lip"] &= ~masks["mouth"]  # the skin above the lips, never the lips (lipstick)
    masks["lips"] &= ~_fill([f.points[60:68]], size)
    return {name: masks[name] for name in REGIONS}


def region_masks(landmarks: np.ndarray, size: tuple[int, int], blur: bool = True) -> dict[str, np.ndarray]:
    """Float ``(H, W)`` maps in [0, 1] of every region in :data:`REGIONS`, drawn from dlib's 68
    ``landmarks`` (x, y pixels) in an image of ``size`` (H, W); edges softened by a Gaussian of
    :data:`EDGE_BLUR` inter-ocular distances unless ``blur`` is False. Regions outside the image
    are clipped (an empty region is all zeros)."""
    masks = binary_masks(landmarks, size)
    sigma = EDGE_BLUR * FaceFrame(landmarks).iod if blur else 0.0
    return {name: soften(mask, sigma) for name, mask in masks.items()}


def soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A boolean mask as a float32 map in [0, 1], its edges blurred by a Gaussian of ``sigma``
    pixels (none below 0.3 px)."""
    m = np.asarray(mask).astype(np.float32)
    if sigma > 0.3:
        m = gaussian(m, sigma=sigma, mode="constant", preserve_range=True).astype(np.float32)
    return np.clip(m, 0.0, 1.0)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """Mass centre (y, x) of a non-negative map (NaN if it is empty)."""
    mask = np.asarray(mask, dtype=np.float64)
    total = mask.sum()
    if total <= 0:
        return (float("nan"), float("nan"))
    ys, xs = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    return (float((ys * mask).sum() / total), float((xs * mask).sum() / total))
