"""Move images and maps between the frames of two alignment templates, in batches on any device.

Every template places dlib's face box somewhere (:meth:`AlignmentTemplate.face_box`); a face
aligned to one template is brought into another by the scale and shift that maps one box
onto the other. Attribute models use this to cut their own crop (a tighter chip, another
size) from the face the backbone sees, and to bring their maps back to it.

Example:
    >>> import torch
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> src, dst = dlib_chip_template(150, 0.25), dlib_chip_template(64, 0.2)
    >>> matrix = box_transform(src, dst)
    >>> [round(float(v), 4) for v in matrix[:2].flatten()]
    [0.4571, 0.0, -2.2857, 0.0, 0.4571, -2.2857]
    >>> warp(torch.ones(1, 3, 150, 150), matrix, (64, 64)).shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .templates import AlignmentTemplate


def box_transform(src: AlignmentTemplate, dst: AlignmentTemplate) -> np.ndarray:
    """3x3 matrix taking (x, y) pixel positions of ``src``'s frame to ``dst``'s."""
    sl, st, sr, _ = src.face_box()
    dl, dt, dr, _ = dst.face_box()
    scale = (dr - dl) / (sr - sl)
    return np.array([[scale, 0.0, dl - scale * sl], [0.0, scale, dt - scale * st], [0.0, 0.0, 1.0]])


def warp(images: torch.Tensor, matrix: np.ndarray, size: tuple[int, int], padding: str = "border") -> torch.Tensor:
    """Resample ``(N, C, H, W)`` images into a ``size`` frame, where ``matrix`` maps input
    pixel positions to output ones (bilinear; differentiable; pixel centres at integers)."""
    n, _, height, width = images.shape
    out_h, out_w = size
    inverse = torch.as_tensor(np.linalg.inv(matrix), dtype=images.dtype, device=images.device)
    ys, xs = torch.meshgrid(torch.arange(out_h, dtype=images.dtype, device=images.device),
                            torch.arange(out_w, dtype=images.dtype, device=images.device), indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ inverse.T  # source (x, y, 1)
    grid = torch.stack([(2 * points[..., 0] + 1) / width - 1, (2 * points[..., 1] + 1) / height - 1], dim=-1)
    return F.grid_sample(images, grid.expand(n, -1, -1, -1), mode="bilinear", padding_mode=padding,
                         align_corners=False)


def faces_to_tensor(faces: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 faces ``(N, H, W, 3)`` or ``(H, W, 3)`` as a float ``(N, 3, H, W)`` tensor of 0..255."""
    batch = torch.as_tensor(np.ascontiguousarray(faces), device=device)
    if batch.ndim == 3:
        batch = batch.unsqueeze(0)
    return batch.permute(0, 3, 1, 2).float()


def maps_to_frame(maps: torch.Tensor, matrix: np.ndarray, chip_size: tuple[int, int],
                  size: tuple[int, int]) -> torch.Tensor:
    """Maps ``(N, A, h, w)`` computed on a chip (``matrix`` takes the face's frame to the
    chip's) brought back to the face's frame ``size``: upsampled to the chip, then warped;
    outside the chip the maps are 0."""
    chip = F.interpolate(maps, size=chip_size, mode="bilinear", align_corners=False)
    return warp(chip, np.linalg.inv(matrix), size, padding="zeros").clamp(0, 1)
