"""ROAD's noisy linear imputation of removed pixels, for deletion-style faithfulness metrics.

Source: Rong, Leemann, Borisov, Kasneci and Kasneci, "A Consistent and Efficient Evaluation
Strategy for Attribution Methods", ICML 2022; reference code ``road/imputations.py``
(``NoisyLinearImputer``) of github.com/tleemann/road_evaluation (MIT). This is a rewrite, not a
copy. Erasing pixels to black lets the score follow the mask's shape; ROAD fills them with what
their surroundings predict instead, so that the removed information, not the mask, is measured.

The definition: each removed pixel becomes the weighted mean of its 8 neighbours, weight 1/6
for the 4 direct ones and 1/12 for the 4 diagonal ones. Neighbours outside the image are
dropped and the remaining weights renormalised: the pixel is their weighted sum divided by
their total weight ``s`` (1 inside the image, less on its border), as in the reference.
Removed neighbours are unknowns too, so all removed pixels of one mask are one sparse linear
system, ``s_i x_i - sum_j w_ij x_j = sum_k w_ik v_k`` (j removed, k known with value v), solved
exactly and together for the 3 colour channels: one factorisation, three right-hand sides. Then
Gaussian noise is added to the imputed pixels only; the others are returned unchanged,
bit-identical to ``face.astype(np.float32)``.

Decisions:

* ``noise`` is the standard deviation as a fraction of the 0..255 range. The reference adds
  ``noise * randn`` to images in [0, 1] (torchvision ``ToTensor``, normalisation only after the
  imputation) with ``noise=0.01`` in ``run_road``'s default and its experiments, so the default
  0.01 here is the same, 2.55 grey levels.
* The noise is seeded per mask from ``seed`` and the mask's own bits: the same call gives the
  same result, two masks get different noise, and a mask gets the same noise alone or in a batch.
* Imputed values are clipped to [0, 255] after the noise (the reference does not clip; only
  pixels near black or white are affected, and the result stays a valid image).
* Unreachable pixels: the system is symmetric positive definite as soon as one pixel is known.
  A connected group of removed pixels (8-neighbourhood) that touched no known pixel would have
  no neighbour outside itself in the image, so it would be the whole image. That is the only
  case without a solution: a mask that removes every pixel becomes mid-grey, 127.5, plus noise.

Solver: SuperLU (``scipy.sparse.linalg.splu``) on the system built with vectorised numpy, the
unknowns numbered in a nested-dissection order of the grid (cached per size), which SuperLU
factorises faster than with its own orderings; SuperLU releases the GIL, so the masks run on a
thread pool, one per core (``S2W_THREADS`` threads when set). A mask used more than once
(the benchmark's scattered order and centre control are the same for every face) keeps its
factorisation, within ``S2W_ROAD_CACHE_MB`` megabytes (1024 by default; 0 turns it off), so
that later faces only pay for the solve. Measured against alternatives in ``docs/performance.md``.

Example:
    >>> import numpy as np
    >>> y, x = np.mgrid[:16, :16]
    >>> face = np.stack([3 * x + 2 * y, x + y + 7, 40 + 0 * x], axis=-1).astype(np.uint8)
    >>> masks = np.zeros((3, 16, 16), bool)
    >>> masks[0, 5:9, 4:10] = True  # a hole in a linear ramp: filled back exactly
    >>> masks[2] = True  # everything removed: mid-grey
    >>> out = road_impute(face, masks, noise=0)
    >>> out.shape, out.dtype
    ((3, 16, 16, 3), dtype('float32'))
    >>> float(np.abs(out[0] - face).max()) < 1e-3, bool((out[1] == face).all()), float(out[2].mean())
    (True, True, 127.5)
    >>> noisy = road_impute(face, masks[:1], noise=0.01, seed=1)
    >>> again = road_impute(face, masks[:1], noise=0.01, seed=1)
    >>> bool((noisy[0][~masks[0]] == face[~masks[0]]).all()), bool((noisy == again).all())
    (True, True)
    >>> grey = road_impute(face, masks[2:], noise=0.01)  # 768 noisy values around 127.5
    >>> 0.9 < float((grey - 127.5).std()) / 2.55 < 1.1
    True
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np

_EDGE, _DIAG = 1 / 6, 1 / 12
_OFFSETS = tuple((dy, dx, _DIAG if dy and dx else _EDGE) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)
_LEAF = 16  # nested dissection stops at blocks of at most this many cells
_GREY = 127.5  # the value of a mask that removes everything
CACHE_ENV, CACHE_MB = "S2W_ROAD_CACHE_MB", 1024  # memory for factorisations of recurring masks
THREADS_ENV = "S2W_THREADS"  # solver threads (default: one per core); benchmark workers split the cores


def road_impute(face: Any, masks: Any, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """ROAD noisy linear imputation of one face under each of ``masks``.

    ``face``: one aligned RGB face ``(H, W, 3)``, uint8 or float in 0..255. ``masks``: ``(M, H, W)``
    numpy or torch array, True (non-zero) where a pixel is removed. ``noise``: standard deviation
    of the added Gaussian noise as a fraction of 255 (0.01, ROAD's default, is 2.55 grey levels; 0
    for none). ``seed``: a non-negative integer. Returns float32 ``(M, H, W, 3)`` in 0..255: the
    face with each mask's removed pixels imputed (see the module docstring).
    """
    img = np.asarray(face)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"face must be one RGB image (H, W, 3), got shape {img.shape}")
    if hasattr(masks, "detach"):  # a torch tensor, without importing torch
        masks = masks.detach().cpu().numpy()
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[1:] != img.shape[:2]:
        raise ValueError(f"masks must be (M, H, W) with (H, W) = {img.shape[:2]}, got shape {masks.shape}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a non-negative number, got {noise}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    masks = masks.astype(bool)
    img = img.astype(np.float64)
    if not np.isfinite(img).all():
        raise ValueError("face has non-finite values")
    out = np.empty(masks.shape + (3,), np.float32)
    out[...] = img.astype(np.float32)
    img_padded = np.pad(img, ((1, 1), (1, 1), (0, 0))).reshape(-1, 3)
    jobs = [i for i in range(len(masks)) if masks[i].any()]

    def impute(i: int) -> None:
        mask = masks[i]
        flat, pos = out[i].reshape(-1, 3), np.flatnonzero(mask)
        if pos.size == mask.size:
            flat[...] = _GREY
        else:
            cells, values = _solve(mask, img_padded)
            flat[cells] = values
        if noise > 0:
            digest = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=8).digest()
            rng = np.random.default_rng([int(seed), int.from_bytes(digest, "little")])
            flat[pos] += (255.0 * noise) * rng.standard_normal((pos.size, 3), dtype=np.float32)
        flat[pos] = np.clip(flat[pos], 0, 255)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(len(jobs), int(os.environ.get(THREADS_ENV) or cores))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(impute, jobs))
    else:
        for i in jobs:
            impute(i)
    return out


def _dissection(h: int, w: int) -> np.ndarray:
    """All cells of an h x w grid (flat indices) in nested-dissection order: each block's two
    halves first, then the line that separates them, down to blocks of ``_LEAF`` cells."""
    parts = []

    def split(y0: int, y1: int, x0: int, x1: int) -> None:
        if (y1 - y0) * (x1 - x0) <= _LEAF or min(y1 - y0, x1 - x0) < 3:
            parts.append((np.arange(y0, y1)[:, None] * w + np.arange(x0, x1)).ravel())
        elif y1 - y0 >= x1 - x0:
            m = (y0 + y1) // 2
            split(y0, m, x0, x1), split(m + 1, y1, x0, x1)
            parts.append(m * w + np.arange(x0, x1))
        else:
            m = (x0 + x1) // 2
            split(y0, y1, x0, m), split(y0, y1, m + 1, x1)
            parts.append(np.arange(y0, y1) * w + m)

    split(0, h, 0, w)
    return np.concatenate(parts)


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image size: the nested-dissection order, each cell's index in the grid padded by one
    cell, and each cell's total neighbour weight ``s``."""
    t = lambda n: np.r_[3.0, np.full(n - 2, 4.0), 3.0] if n > 1 else np.array([2.0])
    degree = ((np.outer(t(h), t(w)) - 4) / 12).ravel()  # (1 2 1) x (1 2 1) / 12 of ones, less the centre
    padded = ((np.arange(h)[:, None] + 1) * (w + 2) + np.arange(w) + 1).ravel()
    return _dissection(h, w), padded, degree


class _System:
    """One mask's linear system, factorised: solves it for any face of that size."""

    def __init__(self, mask: np.ndarray) -> None:
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        h, w = mask.shape
        order, padded, degree = _grid(h, w)
        self.cells = order[mask.ravel()[order]]
        n = self.cells.size
        number = np.full((h + 2) * (w + 2), -2, np.int64)  # >= 0 removed (its unknown), -1 known, -2 outside
        number[padded] = -1
        here = padded[self.cells]
        number[here] = np.arange(n)
        cols, gather, weights = [np.arange(n)], [], []
        for dy, dx, weight in _OFFSETS:
            q = here + (dy * (w + 2) + dx)
            neighbour = number[q]
            cols.append(neighbour)
            gather.append(q.astype(np.int32))
            weights.append(weight * (neighbour == -1))
        self.gather, self.weights = gather, weights  # the right-hand side: known neighbours, weighted
        cols = np.stack(cols, axis=1)
        vals = np.empty(cols.shape)
        vals[:, 0] = degree[self.cells]
        vals[:, 1:] = [-weight for _, _, weight in _OFFSETS]
        keep = cols >= 0
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        a = sp.csc_matrix((vals[keep], cols[keep], indptr), shape=(n, n))  # symmetric: rows are columns
        a.sort_indices()
        self.lu = splu(a, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        self.nbytes = 12 * (self.lu.L.nnz + self.lu.U.nnz) + 36 * n

    def solve(self, img_padded: np.ndarray) -> np.ndarray:
        """The removed pixels' values ``(n, 3)`` for a face padded by one cell, flattened."""
        rhs = np.zeros((self.cells.size, 3))
        for q, weight in zip(self.gather, self.weights):
            rhs += weight[:, None] * img_padded[q]
        return self.lu.solve(rhs)


class _Factorisations:
    """Factorised systems of masks seen more than once, within a memory budget.

    Masks that recur (the benchmark's scattered order and centre control are the same for every
    face of a size) are factorised once; a mask is kept from its second use on, so one-off
    masks never fill the budget. The results are bit-identical with and without it.
    """

    def __init__(self) -> None:
        self.kept: dict[bytes, _System] = {}
        self.seen: set[bytes] = set()
        self.nbytes = 0
        self.lock = threading.Lock()

    def budget(self) -> int:
        return int(float(os.environ.get(CACHE_ENV, CACHE_MB)) * 2 ** 20)

    def system(self, mask: np.ndarray) -> _System:
        key = hashlib.blake2b(np.packbits(mask).tobytes() + repr(mask.shape).encode(), digest_size=16).digest()
        with self.lock:
            found = self.kept.get(key)
            again = key in self.seen
            if not again:
                if len(self.seen) > 1_000_000:
                    self.seen.clear()
                self.seen.add(key)
        if found is not None:
            return found
        system = _System(mask)
        if again:
            with self.lock:
                if key not in self.kept and self.nbytes + system.nbytes <= self.budget():
                    self.kept[key] = system
                    self.nbytes += system.nbytes
        return system


_FACTORISATIONS = _Factorisations()


def _solve(mask: np.ndarray, img_padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The removed pixels of one mask with some known pixel: ``(cells, values)``, the flat indices
    of the removed pixels (in nested-dissection order) and their imputed values ``(n, 3)``.
    ``img_padded``: the face padded by one cell, flattened to ``((H + 2) * (W + 2), 3)``."""
    system = _FACTORISATIONS.system(mask)
    return system.cells, system.solve(img_padded)
