"""Face parts of MediaPipe's 478-point face mesh as index polygons, and their masks in any frame.

The outlines come from MediaPipe's published connection sets (google-ai-edge/mediapipe,
``mediapipe/python/solutions/face_mesh_connections.py``, Apache-2.0): :data:`CONNECTIONS` copies
FACEMESH_LIPS, _LEFT_EYE, _RIGHT_EYE, _LEFT_EYEBROW, _RIGHT_EYEBROW, _LEFT_IRIS, _RIGHT_IRIS,
_FACE_OVAL and _NOSE as data, and :data:`POLYGONS` are their loops, walked in order (an
eyebrow is its lower line and its upper line reversed; the nose is the convex outline of its
points on MediaPipe's canonical face, ``modules/face_geometry/data/canonical_face_model.obj``).
"Left" is the subject's left (the image's right in an unmirrored photo), as in MediaPipe.

Three parts have no connection set; they are our polygons over mesh points (read off the
canonical face, the left side the mirror image of the right by the canonical face's symmetry):

* ``forehead``: the face oval's top arc (54 ... 284) down to the eyebrows' upper lines;
* ``right_cheek`` / ``left_cheek``: under the eye (116-100), along the nose (142, 36), round
  the mouth corner (206, 216, 212, 214) and back along the face side (192, 213, 147, 123);
* ``jaw``: the face oval's lower arc (58 ... 288) up to the mouth corners and the lower outer
  lip, so the mouth is left out;
* ``glabella``: between the inner ends of the brows, down to the top of the nose (107, 9, 336,
  285, 417, 168, 193, 55).

From MediaPipe's refinement contours (``tensors_to_face_landmarks_graph.cc``): ``mouth_gap``
(the semi-inner lip contours: where the lips meet, and any opening), ``right_eye_area`` /
``left_eye_area`` (halo x2: eye and lids) and ``right_eye_surround`` / ``left_eye_surround``
(halo x3: the lids and the skin just around).

Composite names: ``eyes``, ``eyebrows``, ``irises``, ``cheeks``, ``eye_areas``,
``eye_surrounds`` (both sides), ``mouth`` (=
``lips``, the outer lip outline), ``mouth_opening`` (= ``lips_inner``), ``face`` (=
``face_oval``). :func:`mesh_region_masks` rasterises them in batches.

Example:
    >>> import math, torch
    >>> points = torch.zeros(1, 478, 2)
    >>> loop = POLYGONS["lips"][0]
    >>> angle = torch.arange(len(loop)) * 2 * math.pi / len(loop)
    >>> points[0, list(loop)] = torch.stack([5 + 3 * angle.cos(), 5 + 3 * angle.sin()], dim=1)  # a round mouth
    >>> masks = mesh_region_masks(points, (10, 10), ["mouth", "left_eye"])
    >>> masks.shape, int(masks[0, 0].sum()), int(masks[0, 1].sum())  # about pi * 3 ** 2; a collapsed eye
    (torch.Size([1, 2, 10, 10]), 26, 0)
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

#: MediaPipe's connection sets (edges between mesh points), copied from face_mesh_connections.py.
CONNECTIONS: dict[str, frozenset[tuple[int, int]]] = {
    "lips": frozenset([(61, 146), (146, 91), (91, 181), (181, 84), (84, 17), (17, 314), (314, 405), (405, 321),
                       (321, 375), (375, 291), (61, 185), (185, 40), (40, 39), (39, 37), (37, 0), (0, 267),
                       (267, 269), (269, 270), (270, 409), (409, 291), (78, 95), (95, 88), (88, 178), (178, 87),
                       (87, 14), (14, 317), (317, 402), (402, 318), (318, 324), (324, 308), (78, 191), (191, 80),
                       (80, 81), (81, 82), (82, 13), (13, 312), (312, 311), (311, 310), (310, 415), (415, 308)]),
    "left_eye": frozenset([(263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382),
                           (382, 362), (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384),
                           (384, 398), (398, 362)]),
    "left_iris": frozenset([(474, 475), (475, 476), (476, 477), (477, 474)]),
    "left_eyebrow": frozenset([(276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334),
                               (334, 296), (296, 336)]),
    "right_eye": frozenset([(33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155),
                            (155, 133), (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157),
                            (157, 173), (173, 133)]),
    "right_eyebrow": frozenset([(46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66),
                                (66, 107)]),
    "right_iris": frozenset([(469, 470), (470, 471), (471, 472), (472, 469)]),
    "face_oval": frozenset([(10, 338), (338, 297), (297, 332), (332, 284), (284, 251), (251, 389), (389, 356),
                            (356, 454), (454, 323), (323, 361), (361, 288), (288, 397), (397, 365), (365, 379),
                            (379, 378), (378, 400), (400, 377), (377, 152), (152, 148), (148, 176), (176, 149),
                            (149, 150), (150, 136), (136, 172), (172, 58), (58, 132), (132, 93), (93, 234),
                            (234, 127), (127, 162), (162, 21), (21, 54), (54, 103), (103, 67), (67, 109),
                            (109, 10)]),
    "nose": frozenset([(168, 6), (6, 197), (197, 195), (195, 5), (5, 4), (4, 1), (1, 19), (19, 94), (94, 2),
                       (98, 97), (97, 2), (2, 326), (326, 327), (327, 294), (294, 278), (278, 344), (344, 440),
                       (440, 275), (275, 4), (4, 45), (45, 220), (220, 115), (115, 48), (48, 64), (64, 98)]),
}


_RIGHT_CHEEK = (116, 117, 118, 119, 100, 142, 36, 206, 216, 212, 214, 192, 213, 147, 123)
_LEFT_CHEEK = (345, 346, 347, 348, 329, 371, 266, 426, 436, 432, 434, 416, 433, 376, 352)  # its mirror image

#: Each part's polygons: loops of mesh indices (pixels inside any loop are in the part).
POLYGONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "lips": ((61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),),
    "lips_inner": ((78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191),),
    "left_eye": ((263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),),
    "right_eye": ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),),
    "left_iris": ((474, 475, 476, 477),),
    "right_iris": ((469, 470, 471, 472),),
    "left_eyebrow": ((276, 283, 282, 295, 285, 336, 296, 334, 293, 300),),
    "right_eyebrow": ((46, 53, 52, 65, 55, 107, 66, 105, 63, 70),),
    "face_oval": ((10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
                   148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109),),
    "nose": ((168, 48, 64, 98, 97, 2, 326, 327, 294, 278),),
    "forehead": ((54, 103, 67, 109, 10, 338, 297, 332, 284, 300, 293, 334, 296, 336, 107, 66, 105, 63, 70),),
    "right_cheek": (_RIGHT_CHEEK,),
    "left_cheek": (_LEFT_CHEEK,),
    # MediaPipe's refinement contours (kLipsLandmarksIndicesMapping, kLeftEyeLandmarksIndicesMapping and
    # kRightEyeLandmarksIndicesMapping of mediapipe/tasks/cc/vision/face_landmarker/
    # tensors_to_face_landmarks_graph.cc): the semi-inner lip contours (where the lips meet, with any
    # opening) and the eyes' halo x2 (eye and lids) and halo x3 (lids and the skin around) contours.
    "mouth_gap": ((62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 407, 272, 271, 268, 12, 38, 41, 42, 183),),
    "right_eye_area": ((130, 25, 110, 24, 23, 22, 26, 112, 243, 190, 56, 28, 27, 29, 30, 247),),
    "left_eye_area": ((359, 255, 339, 254, 253, 252, 256, 341, 463, 414, 286, 258, 257, 259, 260, 467),),
    "right_eye_surround": ((226, 31, 228, 229, 230, 231, 232, 233, 244, 189, 221, 222, 223, 224, 225, 113),),
    "left_eye_surround": ((446, 261, 448, 449, 450, 451, 452, 453, 464, 413, 441, 442, 443, 444, 445, 342),),
    "glabella": ((107, 9, 336, 285, 417, 168, 193, 55),),
    "jaw": ((288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 214, 57,
             61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 287, 434),),
}
for _name, _parts in {"eyes": ("right_eye", "left_eye"), "eyebrows": ("right_eyebrow", "left_eyebrow"),
                      "irises": ("right_iris", "left_iris"), "cheeks": ("right_cheek", "left_cheek"),
                      "eye_areas": ("right_eye_area", "left_eye_area"),
                      "eye_surrounds": ("right_eye_surround", "left_eye_surround"),
                      "mouth": ("lips",), "mouth_opening": ("lips_inner",), "face": ("face_oval",)}.items():
    POLYGONS[_name] = tuple(loop for part in _parts for loop in POLYGONS[part])
#: Every region name :func:`mesh_region_masks` knows.
MESH_REGIONS: tuple[str, ...] = tuple(POLYGONS)


def _inside(points: torch.Tensor, loop: Sequence[int], size: tuple[int, int]) -> torch.Tensor:
    """(N, H, W) bool: pixel centres (integers) inside the loop, by the even-odd rule: per row,
    the sorted x where the outline crosses it, and how many lie at or left of each pixel."""
    poly = points[:, list(loop), :2]  # (N, K, 2)
    ax, ay = poly[..., 0][:, None], poly[..., 1][:, None]  # (N, 1, K)
    bx, by = poly.roll(-1, dims=1)[..., 0][:, None], poly.roll(-1, dims=1)[..., 1][:, None]
    ys = torch.arange(size[0], dtype=poly.dtype, device=poly.device)[None, :, None]  # (1, H, 1)
    spans = (ay > ys) != (by > ys)
    cross = ax + (ys - ay) * (bx - ax) / torch.where(by == ay, torch.ones_like(by), by - ay)
    cross = torch.where(spans, cross, torch.full_like(cross, float("inf"))).sort(dim=-1).values  # (N, H, K)
    xs = torch.arange(size[1], dtype=poly.dtype, device=poly.device).expand(*cross.shape[:2], size[1])
    return torch.searchsorted(cross.contiguous(), xs.contiguous(), right=True) % 2 == 1


def _blur(masks: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of (N, A, H, W) masks, face i with sigma ``sigmas[i]`` pixels (one depthwise pass)."""
    n, a, h, w = masks.shape
    radius = max(1, int(3 * float(sigmas.max()) + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=masks.dtype, device=masks.device)
    kernel = torch.exp(-t ** 2 / (2 * sigmas.to(masks).clamp_min(1e-3)[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(a, dim=0)  # (N * A, taps)
    flat = masks.reshape(1, n * a, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0)), kernel[:, None, None, :], groups=n * a)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius)), kernel[:, None, :, None], groups=n * a)
    return flat.reshape(n, a, h, w).clamp(0, 1)


def mesh_region_masks(landmarks: torch.Tensor, size: tuple[int, int], names: Sequence[str],
                      blur: float | Sequence[float] = 0.0) -> torch.Tensor:
    """``(N, len(names), H, W)`` float masks in [0, 1] of the named regions (:data:`MESH_REGIONS`)
    from mesh landmarks ``(N, 478, 2 or 3)`` (x, y pixels; a ``(478, k)`` array is one face) in
    a frame of ``size`` (H, W); pixel centres at integers. ``blur``: the edges' Gaussian sigma in
    pixels, one for all faces or one per face (below 0.3: hard 0/1 masks). Parts outside the
    frame are clipped."""
    points = torch.as_tensor(landmarks).detach().float()
    points = points[None] if points.dim() == 2 else points
    unknown = [name for name in names if name not in POLYGONS]
    if unknown:
        raise KeyError(f"unknown mesh region(s) {unknown}; known: {', '.join(MESH_REGIONS)}")
    size = (int(size[0]), int(size[1]))
    out = torch.zeros(points.shape[0], len(names), *size, device=points.device)
    for j, name in enumerate(names):
        for loop in POLYGONS[name]:
            out[:, j] = torch.maximum(out[:, j], _inside(points, loop, size).float())
    sigmas = torch.as_tensor(blur, dtype=torch.float32, device=points.device).expand(points.shape[0])
    return _blur(out, sigmas) if float(sigmas.max()) > 0.3 else out
