"""Blending a placed region into a face: a feathered alpha blend, or a gradient-domain (Poisson)
blend that keeps the donor's texture and takes its colour from the face around it.

Both change only the pixels of their *support* and leave every other pixel bit-identical:

- ``feather``: alpha is the region's mask blurred (Gaussian, ``sigma`` px) and cut below 1/255;
  the support is where alpha is above 0, a ring a few sigma wider than the mask.
- ``poisson``: inside the mask, the result's Laplacian equals the donor's, and on the mask's
  outer boundary it equals the face (Pérez, Gangnet and Blake, SIGGRAPH 2003); one sparse system
  over the mask's pixels, factorised once and solved for the three colour channels. The support
  is the mask itself.

Example:
    >>> import numpy as np
    >>> face = np.full((40, 40, 3), 100, np.uint8)
    >>> donor = np.full((40, 40, 3), 200, np.uint8)
    >>> donor[18:22, 18:22] = 50  # a dark feature on lighter skin
    >>> mask = np.zeros((40, 40), bool)
    >>> mask[12:28, 12:28] = True
    >>> out, support = blend(face, donor, mask, "poisson")
    >>> bool((out[~support] == face[~support]).all()), int(out[20, 20, 0]) < 100 < int(out[13, 13, 0]) + 3
    (True, True)
"""

from __future__ import annotations

import numpy as np

#: The blends :func:`blend` knows.
BLENDS = ("poisson", "feather")

#: The feathered blend's Gaussian, in pixels of a 150 px face (scaled with the face's size).
FEATHER_SIGMA = 2.0


def feather(face: np.ndarray, donor: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-blend ``donor`` into ``face`` with ``mask`` blurred by ``sigma`` px."""
    from scipy import ndimage as ndi

    alpha = ndi.gaussian_filter(mask.astype(np.float64), sigma)
    alpha[alpha < 1 / 255] = 0.0
    support = alpha > 0
    out = face.copy()
    a = alpha[support][:, None]
    mixed = a * donor[support].astype(np.float64) + (1 - a) * face[support].astype(np.float64)
    out[support] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return out, support


def poisson(face: np.ndarray, donor: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient-domain blend of ``donor`` into ``face`` over ``mask`` (the image border is kept)."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    inner = mask.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    rows, cols = np.nonzero(inner)
    n = len(rows)
    out = face.copy()
    if not n:
        return out, inner
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(n)
    src, dst = donor.astype(np.float64), face.astype(np.float64)
    rhs = np.zeros((n, face.shape[2]))
    a_rows, a_cols = [np.arange(n)], [np.arange(n)]
    a_vals = [np.full(n, 4.0)]
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = rows + dr, cols + dc
        rhs += src[rows, cols] - src[nr, nc]  # the donor's gradient (guidance field)
        neighbour = index[nr, nc]
        known = neighbour < 0
        rhs[known] += dst[nr[known], nc[known]]  # the face on the boundary (Dirichlet)
        a_rows.append(np.nonzero(~known)[0])
        a_cols.append(neighbour[~known])
        a_vals.append(np.full(int((~known).sum()), -1.0))
    matrix = sparse.csc_matrix((np.concatenate(a_vals), (np.concatenate(a_rows), np.concatenate(a_cols))),
                               shape=(n, n))
    solved = splu(matrix).solve(rhs)
    out[rows, cols] = np.clip(np.round(solved), 0, 255).astype(np.uint8)
    return out, inner


def blend(face: np.ndarray, donor: np.ndarray, mask: np.ndarray, method: str = "poisson",
          sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(blended, support)``: ``donor`` (already placed in ``face``'s frame, both ``(H, W, 3)``
    uint8) blended into ``face`` over the boolean ``mask`` by ``method`` (one of
    :data:`BLENDS`); every pixel outside ``support`` is ``face``'s own."""
    if method == "poisson":
        return poisson(face, donor, mask)
    if method == "feather":
        return feather(face, donor, mask, FEATHER_SIGMA * face.shape[0] / 150 if sigma is None else sigma)
    raise ValueError(f"unknown blend {method!r}; known: {', '.join(BLENDS)}")
