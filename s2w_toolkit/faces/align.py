"""Warp a face onto a backbone's alignment template with a similarity transform.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> t = dlib_chip_template()
    >>> img = np.zeros((300, 300, 3), np.uint8)
    >>> align_face(img, t.points * 2, t).shape
    (150, 150, 3)
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.transform import AffineTransform, SimilarityTransform, resize, warp

from ..errors import ImageError
from .templates import AlignmentTemplate

MIN_ALIGNED_SIDE = 32  # px: a pre-cropped (--aligned) face must be at least this large on its short side


def _read_range(tform: SimilarityTransform, out_shape: tuple[int, int], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Per axis (rows, then columns), the first and last pixel that a bilinear ``warp`` with
    ``tform`` reads from an image of ``shape`` (clamped to it, as ``mode="edge"`` clamps)."""
    rows, cols = out_shape
    corners = tform(np.array([[0, 0], [cols - 1, 0], [0, rows - 1], [cols - 1, rows - 1]], dtype=np.float64))
    ranges = []
    for axis, size in ((1, shape[0]), (0, shape[1])):
        first = min(max(math.floor(corners[:, axis].min()) - 1, 0), size - 1)
        last = min(max(math.floor(corners[:, axis].max()) + 2, 0), size - 1)
        ranges.append((first, last))
    return ranges


def _shrunk_window(image: np.ndarray, shape: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    """Pixels ``ranges`` (inclusive) of ``skimage.transform.rescale(image, ..., anti_aliasing=True,
    channel_axis=-1, preserve_range=True)`` with output ``shape``, computed the same way (a
    Gaussian, then linear sampling at ``(i + 0.5) * ratio - 0.5``) but from the part of the
    photo they depend on only."""
    ratio = np.asarray(image.shape[:2], dtype=np.float64) / shape
    sigma = np.maximum(0.0, (ratio - 1.0) / 2.0)
    positions, bounds = [], []
    for axis, (first, last) in enumerate(ranges):
        centres = (np.arange(first, last + 1) + 0.5) * ratio[axis] - 0.5
        radius = int(4.0 * sigma[axis] + 0.5)  # scipy's Gaussian support (truncate=4)
        start = max(math.floor(centres[0]) - radius, 0)
        bounds.append((start, min(math.floor(centres[-1]) + 2 + radius, image.shape[axis])))
        positions.append(centres - start)
    (top, bottom), (left, right) = bounds
    window = ndi.gaussian_filter(image[top:bottom, left:right].astype(np.float64), (*sigma, 0.0), mode="mirror")
    grid = np.meshgrid(*positions, np.arange(image.shape[2], dtype=np.float64), indexing="ij")
    return ndi.map_coordinates(window, grid, order=1, mode="mirror")


def align_face(image: np.ndarray, landmarks: np.ndarray, template: AlignmentTemplate) -> np.ndarray:
    """RGB uint8 image + detected landmarks (K, 2) in (x, y) pixels -> aligned RGB uint8 face.

    The transform maps the template's points onto the landmarks (least squares). When the face
    is much larger than the template, the image is first shrunk with anti-aliasing, as dlib's
    chip extractor does with its pyramid, so that the chip does not alias. Only the pixels
    that the chip reads are computed (from the part of the photo they depend on), so the cost
    does not grow with the photo's size and the photo never becomes a float image.
    """
    tform = SimilarityTransform.from_estimate(template.points, template.source_points(landmarks))
    if not tform:
        raise ValueError("landmarks are degenerate: cannot estimate an alignment")
    factor = float(tform.scale)  # input pixels per output pixel
    shape = np.asarray(image.shape[:2])
    if factor > 2.0:
        shrink = 1.0 / np.floor(factor)
        shape = np.maximum(np.round(shrink * shape), 1)  # the shape skimage's rescale gives
        # Rescaled pixel centres sit at (i + 0.5) / shrink - 0.5 in the original frame.
        to_small = SimilarityTransform(scale=shrink, translation=(0.5 * shrink - 0.5,) * 2)
        tform = SimilarityTransform(matrix=to_small.params @ tform.params)
    ranges = _read_range(tform, template.size, (int(shape[0]), int(shape[1])))
    (top, bottom), (left, right) = ranges
    if factor > 2.0:
        source = _shrunk_window(image, shape, ranges).astype(np.float32)
    else:
        source = image[top:bottom + 1, left:right + 1]
    shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]])
    out = warp(source, AffineTransform(matrix=shift @ tform.params), output_shape=template.size, order=1,
               mode="edge", preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resize_aligned(image: np.ndarray, size: tuple[int, int], source: str = "image") -> np.ndarray:
    """A pre-cropped face (``--aligned``) resized to ``size`` (rows, columns) as RGB uint8.

    Refuses, with an :class:`~s2w_toolkit.errors.ImageError` naming ``source``, a face smaller
    than :data:`MIN_ALIGNED_SIDE` on its short side; warns when its aspect ratio is not the
    template's (a non-square face for a square template): it is stretched.

    Example:
        >>> resize_aligned(np.zeros((300, 300, 3), np.uint8), (150, 150)).shape
        (150, 150, 3)
        >>> resize_aligned(np.zeros((1, 1, 3), np.uint8), (150, 150), "dot.png")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.ImageError: dot.png: 1x1 is too small for an aligned face (at least 32 px on the short side)
    """
    height, width = image.shape[:2]
    rows, cols = size
    if min(height, width) < MIN_ALIGNED_SIDE:
        raise ImageError(f"{source}: {width}x{height} is too small for an aligned face "
                         f"(at least {MIN_ALIGNED_SIDE} px on the short side)")
    if abs(height * cols - width * rows) > 0.02 * max(height * cols, width * rows):
        shape = "not square" if rows == cols else f"not {cols}:{rows} like the template"
        warnings.warn(f"{source}: the aligned face is {width}x{height}, {shape}; it is stretched to "
                      f"{cols}x{rows}", stacklevel=2)
    reduce = int(min(height / rows, width / cols) // 4)
    if reduce >= 2:  # a face 8x the template or more: box-reduce in uint8 before the float resize
        image = np.asarray(Image.fromarray(image).reduce(reduce))
    face = resize(image, size, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(face), 0, 255).astype(np.uint8)
