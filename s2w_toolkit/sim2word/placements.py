"""Random placements of an erasure mask as control erasures: the same pixels, translated
(:func:`placement_masks`), or cut the way the mask was from its attribute's region moved as a
whole (:func:`matched_placements`, the default with ``mask_rule="region"``).

A selection-matched control for Sim2Word's erasures: each attribute's mask M_j is moved, as a
whole, to ``count`` random integer offsets where its bounding box lies inside a region (the
backbone template's :meth:`~s2w_toolkit.faces.templates.AlignmentTemplate.face_box`, clipped
to the image), and erased there with the same fill. Nothing wraps around.

* The region's pixels are the columns ``ceil(left) .. floor(right) - 1`` and the rows
  ``ceil(top) .. floor(bottom) - 1`` (to 1e-6 px), clipped to the image.
* In a dimension where the mask's bounding box is larger than the region, the offsets are those
  that keep the box inside the image and cover the whole region in that dimension (the most
  overlap there is).
* The positions are drawn uniformly from the allowed ones, as fractions of the allowed range in
  each dimension (so a mask one pixel larger lands in nearly the same places with the same
  generator), without repetition while there are at least ``count`` of them (so placements
  differ), with repetition otherwise. The original
  position is one of the allowed ones. An empty mask gives empty placements and draws nothing.

Example:
    >>> import numpy as np, torch
    >>> mask = torch.zeros(10, 10, dtype=torch.bool); mask[1:3, 1:4] = True
    >>> moved = random_placements(mask, (2, 2, 8, 8), 3, np.random.default_rng(0))
    >>> moved.shape, moved.sum(dim=(1, 2)).tolist()
    (torch.Size([3, 10, 10]), [6, 6, 6])
    >>> bool(moved[:, :2].any() or moved[:, 8:].any() or moved[:, :, :2].any() or moved[:, :, 8:].any())
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

Box = Sequence[float]  # (left, top, right, bottom) in pixels


def region_pixels(region: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The region's whole pixels ``(x0, y0, x1, y1)`` (``x1``, ``y1`` exclusive), clipped to an
    image of ``size`` (H, W).

    >>> region_pixels((25.0, 24.5, 125.2, 160.0), (150, 150))
    (25, 25, 125, 150)
    """
    h, w = size
    left, top, right, bottom = (float(v) for v in region)
    x0, y0 = max(0, math.ceil(left - 1e-6)), max(0, math.ceil(top - 1e-6))
    x1, y1 = min(w, math.floor(right + 1e-6)), min(h, math.floor(bottom + 1e-6))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the region {tuple(region)} holds no pixel of a {h}x{w} image")
    return x0, y0, x1, y1


def face_region(template: Any, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The template's face box (left, top, right, bottom), scaled to an image of ``size`` (H, W)
    when the template makes faces of another size.

    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> [round(v, 6) for v in face_region(dlib_chip_template(150), (300, 300))]
    [50.0, 50.0, 250.0, 250.0]
    """
    left, top, right, bottom = template.face_box()
    sy, sx = size[0] / template.size[0], size[1] / template.size[1]
    return (left * sx, top * sy, right * sx, bottom * sy)


def _starts(lo: int, hi: int, extent: int, size: int) -> tuple[int, int]:
    """First and last allowed start of a box of ``extent`` pixels, for the region [lo, hi) of an
    axis of ``size`` pixels (see the module docs for a box larger than the region)."""
    if extent <= hi - lo:
        return lo, hi - extent
    return max(0, hi - extent), min(lo, size - extent)


def _positions(rows: int, cols: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` (row, column) indices of a ``rows`` x ``cols`` grid, drawn as uniform fractions of
    it (so that the same draws on a grid one cell larger land in nearly the same places), redrawn
    until distinct while the grid has at least ``count`` cells."""
    picked = np.floor(rng.random((count, 2)) * (rows, cols)).astype(np.int64)
    if count <= rows * cols:
        for _ in range(1000):
            _, first = np.unique(picked[:, 0] * cols + picked[:, 1], return_index=True)
            repeated = np.setdiff1d(np.arange(count), first)
            if len(repeated) == 0:
                break
            picked[repeated] = np.floor(rng.random((len(repeated), 2)) * (rows, cols)).astype(np.int64)
    return picked


def _offsets(mask: torch.Tensor, region: Box, count: int, rng: np.random.Generator,
             overlap: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random (row, column) offsets that keep the bounding box of ``mask`` (bool,
    non-empty) inside ``region`` (see the module docs); with ``overlap`` below 1, only offsets
    where the moved mask covers at most that share of the mask's own pixels
    (:func:`apart_positions`)."""
    h, w = mask.shape
    ys, xs = mask.nonzero(as_tuple=True)
    x0, y0, x1, y1 = region_pixels(region, (h, w))
    top, left = int(ys.min()), int(xs.min())
    row_lo, row_hi = _starts(y0, y1, int(ys.max()) - top + 1, h)
    col_lo, col_hi = _starts(x0, x1, int(xs.max()) - left + 1, w)
    rows, cols = row_hi - row_lo + 1, col_hi - col_lo + 1
    if overlap >= 1.0:
        picked = _positions(rows, cols, count, rng)
    else:
        shares = self_overlap(mask.cpu().numpy(), row_lo - top, col_lo - left, rows, cols)
        picked = apart_positions(shares, overlap, count, rng)
    return row_lo + picked[:, 0] - top, col_lo + picked[:, 1] - left


def self_overlap(mask: np.ndarray, dy0: int, dx0: int, rows: int, cols: int) -> np.ndarray:
    """``(rows, cols)``: the share of ``mask``'s pixels that the mask moved by ``(dy0 + r, dx0 +
    c)`` covers (its autocorrelation over its area).

    >>> m = np.zeros((6, 6), bool); m[1:3, 1:3] = True
    >>> self_overlap(m, -1, -1, 3, 3).tolist()
    [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    """
    from scipy.signal import fftconvolve

    m = mask.astype(np.float64)
    h, w = m.shape
    full = np.rint(fftconvolve(m, m[::-1, ::-1], mode="full"))  # full[h - 1 + dy, w - 1 + dx]
    dy = np.clip(h - 1 + dy0 + np.arange(rows), 0, 2 * h - 2)
    dx = np.clip(w - 1 + dx0 + np.arange(cols), 0, 2 * w - 2)
    return full[np.ix_(dy, dx)] / max(m.sum(), 1.0)


def apart_positions(shares: np.ndarray, overlap: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` (row, column) cells of the grid ``shares`` (each offset's overlap with the
    mask's own place) drawn uniformly, without repetition where there are enough, from the cells
    whose share is at most ``overlap``; where there are fewer than ``count`` such cells, the
    rest are the least overlapping other cells in a seeded order. A control that mostly erases
    the word's own region is not a region elsewhere.

    >>> shares = np.array([[0.0, 0.9], [0.1, 0.8]])
    >>> sorted(map(tuple, apart_positions(shares, 0.25, 2, np.random.default_rng(0)).tolist()))
    [(0, 0), (1, 0)]
    >>> apart_positions(shares, 0.25, 3, np.random.default_rng(0)).tolist()[-1]   # then the least overlap
    [1, 1]
    """
    flat = shares.ravel()
    allowed = np.flatnonzero(flat <= overlap + 1e-12)
    take = rng.choice(allowed, size=min(count, len(allowed)), replace=False) if len(allowed) else allowed
    if len(take) < count:
        rest = np.setdiff1d(np.arange(flat.size), allowed)
        rest = rest[np.lexsort((rng.random(len(rest)), flat[rest]))]
        extra = rest[:count - len(take)]
        if len(extra) < count - len(take):  # fewer cells than placements: repeat them
            pool = np.concatenate([take, extra]).astype(np.int64)
            extra = np.concatenate([extra, rng.choice(pool, size=count - len(take) - len(extra))])
        take = np.concatenate([take, extra])
    return np.stack(np.unravel_index(take.astype(np.int64), shares.shape), axis=1)


def random_placements(mask: torch.Tensor, region: Box, count: int, rng: np.random.Generator,
                      overlap: float = 1.0) -> torch.Tensor:
    """``count`` translated copies of ``mask`` ``(H, W)`` (bool), each with exactly its pixels,
    at random offsets inside ``region`` (left, top, right, bottom): bool ``(count, H, W)`` on the
    mask's device. Draws from ``rng``; see the module docs (``overlap``: :func:`_offsets`)."""
    mask = torch.as_tensor(mask).bool()
    h, w = mask.shape
    out = torch.zeros((count, h, w), dtype=torch.bool, device=mask.device)
    ys, xs = mask.nonzero(as_tuple=True)
    if count <= 0 or len(ys) == 0:
        return out
    dy, dx = (torch.as_tensor(v, device=mask.device) for v in _offsets(mask, region, count, rng, overlap))
    which = torch.arange(count, device=mask.device).repeat_interleave(len(ys))
    out[which, (ys[None] + dy[:, None]).flatten(), (xs[None] + dx[:, None]).flatten()] = True
    return out


def shifted(maps: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``maps`` ``(..., H, W)`` moved by ``dy`` rows and ``dx`` columns, zero where nothing lands.

    >>> shifted(torch.eye(3), 1, 0).tolist()
    [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    h, w = maps.shape[-2:]
    out = torch.zeros_like(maps)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        maps[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    return out


def placement_masks(masks: torch.Tensor, region: Box, count: int, seed: int = 0,
                    overlap: float = 1.0) -> torch.Tensor:
    """:func:`random_placements` of every mask of ``masks`` ``(N, A, H, W)``: bool
    ``(N, A, count, H, W)``. Mask (i, j) draws from its own generator, seeded with
    ``(seed, i, j)``, so its placements depend on nothing but the seed, its row and its pixels;
    a mask repeated within a row shares the placements of its first copy (as it shares its
    score), so a control has no more distinct draws than the real erasures have masks.

    >>> masks = torch.zeros(2, 3, 20, 20, dtype=torch.bool); masks[:, 1:, 5:8, 5:9] = True
    >>> moved = placement_masks(masks, (0, 0, 20, 20), 4)
    >>> moved.sum(dim=(3, 4)).tolist()[0], bool((moved[:, 1] == moved[:, 2]).all())
    ([[0, 0, 0, 0], [12, 12, 12, 12], [12, 12, 12, 12]], True)
    """
    n, a, h, w = masks.shape
    if count <= 0:
        return masks.new_zeros((n, a, 0, h, w))
    rows = []
    for i in range(n):
        _, groups = torch.unique(masks[i].flatten(1), dim=0, return_inverse=True)
        first: dict[int, int] = {}
        for j, group in enumerate(groups.tolist()):
            first.setdefault(group, j)
        drawn = {j: random_placements(masks[i, j], region, count, np.random.default_rng((seed, i, j)), overlap)
                 for j in sorted(set(first.values()))}
        rows.append(torch.stack([drawn[first[group]] for group in groups.tolist()]))
    return torch.stack(rows)


def matched_placements(masks: torch.Tensor, weight: torch.Tensor, attribute_maps: torch.Tensor, region: Box,
                       count: int, fraction: float, dilate: int = 0, seed: int = 0,
                       overlap: float = 1.0) -> torch.Tensor:
    """Controls cut the way the words' masks are (``mask_rule="region"``): for each non-empty mask
    of ``masks`` ``(N, A, H, W)``, the attribute's map ``attribute_maps[i, j]`` moved as a whole to
    ``count`` random offsets that keep its region (the map at least half its maximum) inside
    ``region``, and there the ``fraction`` of the moved region where ``weight[i]`` (H_d) times the
    moved map is highest (:func:`~s2w_toolkit.sim2word.erase.region_masks`, grown by
    ``dilate``): bool ``(N, A, count, H, W)``. Each control is as large as the word's mask and
    has the same help from H_d, so a word beats its controls only when its region holds more of
    the effect than a region of its shape elsewhere, each given its best part. Offsets are drawn
    as :func:`placement_masks` draws them (generator ``(seed, i, j)``, a repeated mask sharing
    its first copy's draws).

    >>> maps = torch.zeros(1, 1, 20, 20); maps[0, 0, 4:8, 4:8] = 1.0
    >>> masks = torch.zeros(1, 1, 20, 20, dtype=torch.bool); masks[0, 0, 4:6, 4:8] = True
    >>> placed = matched_placements(masks, torch.ones(1, 20, 20), maps, (0, 0, 20, 20), 3, 0.5)
    >>> placed.shape, placed.sum(dim=(3, 4)).tolist()
    (torch.Size([1, 1, 3, 20, 20]), [[[8, 8, 8]]])
    """
    from .erase import region_masks

    n, a, h, w = masks.shape
    out = torch.zeros((n, a, max(count, 0), h, w), dtype=torch.bool, device=masks.device)
    if count <= 0:
        return out
    attr = attribute_maps.to(masks.device).float()
    for i in range(n):
        _, groups = torch.unique(masks[i].flatten(1), dim=0, return_inverse=True)
        first: dict[int, int] = {}
        for j, group in enumerate(groups.tolist()):
            first.setdefault(group, j)
            j0 = first[group]
            if j0 != j:
                out[i, j] = out[i, j0]
                continue
            peak = attr[i, j].max()
            if not masks[i, j].any() or peak <= 0:
                continue
            dys, dxs = _offsets(attr[i, j] >= 0.5 * peak, region, count, np.random.default_rng((seed, i, j)), overlap)
            moved = torch.stack([shifted(attr[i, j], int(dy), int(dx)) for dy, dx in zip(dys, dxs)])
            out[i, j] = region_masks((weight[i].to(moved) * moved)[None], moved[None], fraction, dilate)[0]
    return out


def control_placements(masks: torch.Tensor, h_d: torch.Tensor, attribute_maps: torch.Tensor, region: Box,
                       count: int, settings: Any) -> torch.Tensor:
    """The controls of Sim2Word's ``masks`` ``(N, A, H, W)`` by its ``settings``: with
    ``mask_rule="region"`` :func:`matched_placements` (by H_d ``(N, H, W)``, or by the attribute
    maps alone with ``ablation="no-counterfactual"``), else (``absolute``, ``no-attributes``)
    :func:`placement_masks`."""
    if settings.mask_rule == "region" and settings.ablation != "no-attributes":
        weight = h_d if settings.ablation is None else torch.ones_like(h_d)
        return matched_placements(masks, weight, attribute_maps, region, count, settings.mask_fraction,
                                  settings.dilation(masks.shape[-1]), settings.seed, settings.control_overlap)
    return placement_masks(masks, region, count, settings.seed, settings.control_overlap)


def placement_covers(placed: torch.Tensor, masks: torch.Tensor, overlap: float) -> torch.Tensor:
    """Which regions each control covers: bool ``(N, A, K, A)``, entry (i, j, k, l) true where the
    k-th placement of mask j, of ``placed`` ``(N, A, K, H, W)``, covers more than ``overlap`` of the
    pixels of mask l of ``masks`` ``(N, A, H, W)`` (an empty mask is never covered).

    >>> masks = torch.zeros(1, 2, 8, 8, dtype=torch.bool); masks[0, 0, :2, :2] = True; masks[0, 1, 4:, 4:] = True
    >>> placed = torch.zeros(1, 2, 1, 8, 8, dtype=torch.bool); placed[0, 0, 0, 4:6, 4:6] = True
    >>> placement_covers(placed, masks, 0.2)[0, 0, 0].tolist()   # 4 of mask 1's 16 pixels
    [False, True]
    """
    n, a, k, h, w = placed.shape
    m = masks.flatten(2).float()  # (N, A, HW)
    hits = torch.bmm(placed.reshape(n, a * k, h * w).float(), m.transpose(1, 2))  # (N, A K, A)
    area = m.sum(dim=2)[:, None, :]
    return ((hits > overlap * area) & (area > 0)).view(n, a, k, a)


def covered_words(covers: torch.Tensor | None, index: int, rows: list[dict]) -> dict[str, list[set[str]]] | None:
    """Direction ``index`` of :func:`placement_covers`'s ``covers`` as ``{attribute: [the
    attributes its k-th placement covers, per k]}`` for ``rows`` (one per attribute); None
    without covers.

    >>> covers = torch.zeros(1, 2, 1, 2, dtype=torch.bool); covers[0, 1, 0, 0] = True
    >>> covered_words(covers, 0, [{"attribute": "Eyes"}, {"attribute": "Forehead"}])
    {'Eyes': [set()], 'Forehead': [{'Eyes'}]}
    """
    if covers is None:
        return None
    names = [row["attribute"] for row in rows]
    flags = covers[index].tolist()
    return {names[j]: [{names[m] for m, hit in enumerate(per) if hit} for per in flags[j]] for j in range(len(names))}
