"""How well a map finds a planted region: three scores of a saliency map against the region's
mask (the pixels a swap changed).

- ``mass_ratio``: the share of the map's mass inside the region, divided by the region's share
  of the face. 1 is chance (a uniform map); the most a map can score is ``1 / area share``.
- ``pointing``: 1 when the map's maximum lies inside the region, else 0 (the pointing game of
  Zhang et al., ECCV 2016, with no tolerance around the point: on a 150 px face the usual 15 px
  would hand a centred blob most noses). A maximum shared by several pixels is broken by a seeded
  draw among them, so a flat map points at a random pixel.
- ``hit_auc``: the area under the curve of the share of the region's pixels a threshold keeps
  against the share of the other pixels it keeps, as the threshold sweeps the map: the
  localisation half of the inpainting game of Williford et al. (ECCV 2020), whose x-axis is this
  false-alarm rate. 0.5 is chance, 1 is a map higher on every region pixel than anywhere else;
  ties count half (it equals the Mann-Whitney probability that a region pixel outranks another).

A map is first brought to the mask's size (bilinear) and made non-negative (its minimum
subtracted).

Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 10), bool); mask[2:4, 6:9] = True   # 6 % of the face
    >>> oracle, flat = mask.astype(float), np.ones((10, 10))
    >>> s = map_scores(oracle, mask)
    >>> round(s["mass_ratio"], 2), s["pointing"], s["hit_auc"]
    (16.67, 1.0, 1.0)
    >>> s = map_scores(flat, mask)
    >>> round(s["mass_ratio"], 2), s["hit_auc"]
    (1.0, 0.5)
"""

from __future__ import annotations

import numpy as np

#: Every score, with the direction in which it is better and its chance level.
SCORES = {"mass_ratio": ("higher", 1.0), "pointing": ("higher", None), "hit_auc": ("higher", 0.5)}


def _fit(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    m = np.asarray(saliency, dtype=np.float64)
    if m.shape != shape:
        m = resize(m, shape, order=1, mode="edge", anti_aliasing=False)
    m = m - m.min()
    return m


def mass_ratio(saliency: np.ndarray, mask: np.ndarray) -> float:
    """The map's mass inside ``mask`` over the mask's area share (1: chance; a flat map is 1)."""
    m = _fit(saliency, mask.shape)
    total, share = m.sum(), mask.mean()
    if share == 0:
        return float("nan")
    if total <= 0:
        return 1.0  # a flat map spreads its (zero) mass evenly
    return float(m[mask].sum() / total / share)


def pointing(saliency: np.ndarray, mask: np.ndarray, seed: int = 0) -> float:
    """1.0 when the map's maximum (ties drawn with ``seed``) lies inside ``mask``."""
    m = _fit(saliency, mask.shape)
    top = np.flatnonzero(m >= m.max() - 1e-12 * max(1.0, abs(m.max())))
    pick = top[np.random.default_rng(seed).integers(len(top))]
    return float(mask.ravel()[pick])


def hit_auc(saliency: np.ndarray, mask: np.ndarray) -> float:
    """The probability that a pixel of ``mask`` outranks a pixel outside it (ties: half)."""
    from scipy.stats import rankdata

    m = _fit(saliency, mask.shape).ravel()
    inside = mask.ravel()
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if not n_in or not n_out:
        return float("nan")
    ranks = rankdata(m)
    return float((ranks[inside].sum() - n_in * (n_in + 1) / 2) / (n_in * n_out))


def map_scores(saliency: np.ndarray, mask: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Every score of :data:`SCORES` of ``saliency`` against the boolean ``mask``."""
    mask = np.asarray(mask, dtype=bool)
    return {"mass_ratio": mass_ratio(saliency, mask), "pointing": pointing(saliency, mask, seed),
            "hit_auc": hit_auc(saliency, mask)}
