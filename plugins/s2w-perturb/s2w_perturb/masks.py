"""RISE's random smooth masks (Petsiuk et al., BMVC 2018), drawn once and rendered in chunks.

Each mask starts as a coarse ``cells x cells`` grid whose cells are kept (1) with probability
``p`` and dropped (0) otherwise. The grid is upsampled bilinearly to ``(cells + 1)`` cells of
``ceil(H / cells) x ceil(W / cells)`` pixels, and an ``H x W`` window is cut from it at a random
shift of less than one cell in each direction. The result is a smooth mask in ``[0, 1]`` whose
blobs do not all sit on the same grid.

All random numbers come from one CPU ``torch.Generator`` seeded with ``seed``; they are drawn
up front, so the masks are the same for any chunking and on any device.

Example:
    >>> sampler = MaskSampler(4, (20, 30), cells=3, p=0.5, seed=0)
    >>> masks = sampler.masks(0, 4)
    >>> masks.shape, bool(masks.min() >= 0), bool(masks.max() <= 1)
    (torch.Size([4, 20, 30]), True, True)
    >>> bool(torch.equal(torch.cat([sampler.masks(0, 1), sampler.masks(1, 4)]), masks))
    True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class MaskSampler:
    """``count`` RISE masks of ``size = (H, W)``, rendered on demand by index range.

    ``grids`` ``(count, cells, cells)`` (bool) and ``shifts`` ``(count, 2)`` (row, column
    offsets) are drawn at construction on the CPU: first the grids, then the row shifts, then
    the column shifts.

    Example:
        >>> s = MaskSampler(3, (8, 8), cells=2, p=1.0)
        >>> bool(torch.allclose(s.masks(0, 3), torch.ones(3, 8, 8)))   # every cell kept: ones
        True
        >>> MaskSampler(3, (8, 8), cells=2, seed=1).shifts.shape
        torch.Size([3, 2])
    """

    def __init__(self, count: int, size: tuple[int, int], cells: int = 7, p: float = 0.5, seed: int = 0) -> None:
        if count < 1:
            raise ValueError(f"the number of masks must be at least 1, got {count}")
        if cells < 1:
            raise ValueError(f"cells must be at least 1, got {cells}")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p (the keep probability) must be in (0, 1], got {p}")
        self.count, self.cells, self.p, self.seed = int(count), int(cells), float(p), int(seed)
        self.size = (int(size[0]), int(size[1]))
        height, width = self.size
        self.cell_size = (math.ceil(height / cells), math.ceil(width / cells))
        self.upsampled_size = ((cells + 1) * self.cell_size[0], (cells + 1) * self.cell_size[1])
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        self.grids = torch.rand(self.count, cells, cells, generator=generator) < self.p
        rows = torch.randint(0, self.cell_size[0], (self.count,), generator=generator)
        cols = torch.randint(0, self.cell_size[1], (self.count,), generator=generator)
        self.shifts = torch.stack([rows, cols], dim=1)

    def masks(self, start: int, stop: int, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Masks ``start .. stop - 1`` as a ``(stop - start, H, W)`` tensor on ``device``."""
        if not 0 <= start <= stop <= self.count:
            raise IndexError(f"mask range {start}:{stop} outside 0:{self.count}")
        device = torch.device("cpu") if device is None else torch.device(device)
        grids = self.grids[start:stop].to(device=device, dtype=dtype).unsqueeze(1)
        shifts = self.shifts[start:stop].to(device)
        up = F.interpolate(grids, size=self.upsampled_size, mode="bilinear", align_corners=False)[:, 0]
        height, width = self.size
        rows = shifts[:, :1] + torch.arange(height, device=device)  # (n, H)
        cols = shifts[:, 1:] + torch.arange(width, device=device)  # (n, W)
        index = torch.arange(stop - start, device=device)[:, None, None]
        return up[index, rows[:, :, None], cols[:, None, :]].clamp_(0.0, 1.0)
