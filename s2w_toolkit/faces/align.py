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

import numpy as np
from skimage.transform import SimilarityTransform, rescale, warp

from .templates import AlignmentTemplate


def align_face(image: np.ndarray, landmarks: np.ndarray, template: AlignmentTemplate) -> np.ndarray:
    """RGB uint8 image + detected landmarks (K, 2) in (x, y) pixels -> aligned RGB uint8 face.

    The transform maps the template's points onto the landmarks (least squares). When the face
    is much larger than the template, the image is first shrunk with anti-aliasing, as dlib's
    chip extractor does with its pyramid, so that the chip does not alias.
    """
    tform = SimilarityTransform.from_estimate(template.points, template.source_points(landmarks))
    if not tform:
        raise ValueError("landmarks are degenerate: cannot estimate an alignment")
    factor = float(tform.scale)  # input pixels per output pixel
    if factor > 2.0:
        shrink = 1.0 / np.floor(factor)
        image = rescale(image, shrink, anti_aliasing=True, channel_axis=-1, preserve_range=True)
        image = image.astype(np.float32)
        # Rescaled pixel centres sit at (i + 0.5) / shrink - 0.5 in the original frame.
        to_small = SimilarityTransform(scale=shrink, translation=(0.5 * shrink - 0.5,) * 2)
        tform = SimilarityTransform(matrix=to_small.params @ tform.params)
    out = warp(image, tform, output_shape=template.size, order=1, mode="edge", preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
