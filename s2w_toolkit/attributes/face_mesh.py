"""MediaPipe's Face Landmarker (478-point mesh and 52 blendshapes) as one differentiable torch chain.

Google's ``face_landmarker.task`` bundle holds three TFLite nets; each is converted by
:func:`~s2w_toolkit.weights.tflite_graph.convert_tflite` and run the way MediaPipe's Tasks graphs
run them (sources: github.com/google-ai-edge/mediapipe, ``mediapipe/tasks/cc/vision/
face_detector/face_detector_graph.cc``, ``.../face_landmarker/face_landmarks_detector_graph.cc``,
``.../face_landmarker/face_blendshapes_graph.cc``, ``mediapipe/modules/face_detection/
face_detection.pbtxt`` and ``mediapipe/modules/face_landmark/face_detection_front_detection_to_roi.pbtxt``):

1. **Where the face is** (``detector=True``): BlazeFace short range on the whole aligned face,
   letterboxed to 128 px (black border), RGB in -1..1; 896 SSD anchors (strides 8, 16, 16, 16,
   fixed size), boxes decoded at scale 128, sigmoid scores, kept at >= 0.5, and the best face's
   cluster (IoU > 0.3) averaged by score (MediaPipe's weighted non-max suppression). Without the
   detector, or when it finds nothing, the box is the one the alignment template implies
   (:data:`TEMPLATE_BOX`). The box is a geometric choice made without gradients.
2. **The ROI**: the box's centre, a square of 1.5 x its longer side (``scale_x/scale_y: 1.5,
   square_long: true``), upright (no rotation: the faces are aligned, eyes level), sampled
   bilinearly to 256 x 256 RGB in 0..1 with the edge pixels repeated (ImageToTensor's default
   ``BORDER_REPLICATE``). Crop pixel ``u`` lies at ``left + u * side / 256`` in the face.
3. **The mesh**: 478 (x, y, z) in crop pixels, and the face-presence score, the sigmoid of the
   net's second output (``Identity_1``; MediaPipe ignores the third).
4. **Blendshapes**: the 146 landmarks of :data:`LANDMARKS_SUBSET`, (x, y) only, in the pixels of
   the input image (MediaPipe's ``LandmarksToTensorCalculator`` multiplies its normalised
   landmarks by the image size), into the blendshape net; 52 scores in 0..1
   (:data:`BLENDSHAPE_NAMES`). The net normalises the points itself (shift and scale out).

Everything from the face's pixels to the blendshapes is differentiable and batched (the
blendshape net, written for one face, runs under ``torch.func.vmap``).

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.frames import faces_to_tensor
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> out = FaceMesh.load()(faces_to_tensor(face))
    >>> out.landmarks.shape, out.blendshapes.shape, bool(out.presence[0] > 0.9)
    (torch.Size([1, 478, 3]), torch.Size([1, 52]), True)
    >>> BLENDSHAPE_NAMES.index("mouthSmileLeft"), len(LANDMARKS_SUBSET)
    (44, 146)
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from ..faces.templates import AlignmentTemplate, dlib_chip_template
from ..weights.registry_files import registry_file
from ..weights.tflite_graph import convert_tflite

MESH_SIZE = 256
DETECTOR_SIZE = 128
#: MediaPipe's face ROI: 1.5 x the detection box, square on its longer side.
ROI_SCALE = 1.5
#: Detector score and mesh face-presence threshold (``min_detection_confidence``'s default).
MIN_CONFIDENCE = 0.5
#: Weighted non-max suppression: detections overlapping the best one by more are averaged in.
NMS_IOU = 0.3
#: The BlazeFace box (centre x, centre y, longer side) in units of the template's dlib face box
#: (from its left, top; its width), used when the detector is off or finds nothing: the median
#: over 26 faces (the 4 demo faces and faces-dev's 22) aligned to dlib's 150 px chip, 2026-12-07
#: (spread: 0.09, 0.04, 0.05). Landmarks then move ~0.5 px, but single blendshapes up to 0.3:
#: the words' thresholds were set with the detector on.
TEMPLATE_BOX = (0.48, 0.54, 1.34)

# Subset of 478 landmarks required for the HUND model: kLandmarksSubsetIdxs of
# mediapipe/tasks/cc/vision/face_landmarker/face_blendshapes_graph.cc (google-ai-edge/mediapipe,
# Apache-2.0), copied as data, in its order (ascending).
LANDMARKS_SUBSET: tuple[int, ...] = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39,
    40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160,
    161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246,
    249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295,
    296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334,
    336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
    384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477)

#: kBlendshapeNames of the same file: the blendshape net's 52 outputs, in order ("Left" is the
#: subject's left).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight")

_NETS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")


def ssd_anchors() -> torch.Tensor:
    """BlazeFace short range's 896 anchor centres (x, y) in 0..1: per feature map (16 x 16 for
    stride 8; 8 x 8 for the three stride-16 layers, merged), row by row, each location's anchors
    together (2 for one layer: aspect 1 plus the interpolated scale; 6 for three).

    Example:
        >>> a = ssd_anchors()
        >>> a.shape, a[0].tolist(), a[2].tolist(), a[512].tolist()
        (torch.Size([896, 2]), [0.03125, 0.03125], [0.09375, 0.03125], [0.0625, 0.0625])
    """
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        centres = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        out.append(torch.stack([xs, ys], dim=-1).reshape(-1, 1, 2).expand(-1, per_cell, 2).reshape(-1, 2))
    return torch.cat(out)


def crop_squares(images: torch.Tensor, left: torch.Tensor, top: torch.Tensor, side: torch.Tensor, size: int,
                 padding: str = "border") -> torch.Tensor:
    """Per image, the square ``side`` pixels wide at (``left``, ``top``) of ``(N, C, H, W)`` images
    resampled to ``size`` x ``size`` (bilinear, differentiable): output pixel ``u`` samples the
    input at ``left + u * side / size`` (OpenCV's warp of the box's corners onto the output's,
    as MediaPipe's ImageToTensor does; pixel centres at integers). ``left``, ``top``, ``side``: (N,).

    Example:
        >>> ramp = torch.arange(8.0).expand(1, 1, 8, 8)
        >>> crop_squares(ramp, torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([4.0]), 2)[0, 0, 0].tolist()
        [2.0, 4.0]
    """
    n, _, height, width = images.shape
    steps = torch.arange(size, dtype=images.dtype, device=images.device) / size
    xs = left[:, None].to(images) + steps * side[:, None].to(images)  # (N, size)
    ys = top[:, None].to(images) + steps * side[:, None].to(images)
    grid = torch.stack([((2 * xs + 1) / width - 1)[:, None, :].expand(n, size, size),
                        ((2 * ys + 1) / height - 1)[:, :, None].expand(n, size, size)], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


@dataclass
class MeshResult:
    """What :class:`FaceMesh` finds for N faces: ``landmarks`` (N, 478, 3) in the input face's
    pixels (z in the same scale), ``crop_landmarks`` (N, 478, 3) in the 256 px crop's,
    ``presence`` (N,) face-presence probability, ``blendshapes`` (N, 52), ``boxes`` (N, 3) each
    ROI's (left, top, side) in the face's pixels, ``crops`` (N, 256, 256, 3) the mesh net's input,
    ``detected`` (N,) bool: the detector placed the face (else :data:`TEMPLATE_BOX` did).

    Example:
        >>> r = MeshResult(*(torch.zeros(1, 52) for _ in range(7)))
        >>> r.blendshape("jawOpen").shape
        torch.Size([1])
    """

    landmarks: torch.Tensor
    crop_landmarks: torch.Tensor
    presence: torch.Tensor
    blendshapes: torch.Tensor
    boxes: torch.Tensor
    crops: torch.Tensor
    detected: torch.Tensor

    def blendshape(self, name: str) -> torch.Tensor:
        """(N,) scores of the blendshape called ``name`` (see :data:`BLENDSHAPE_NAMES`)."""
        return self.blendshapes[:, BLENDSHAPE_NAMES.index(name)]


class FaceMesh(nn.Module):
    """Detector (optional), 478-point mesh and blendshape nets, chained as MediaPipe chains them.

    ``forward(faces, template=None)`` takes ``(N, 3, H, W)`` RGB in 0..255 (as
    :func:`~s2w_toolkit.faces.frames.faces_to_tensor` gives) and returns a :class:`MeshResult`.

    Example:
        >>> mesh = FaceMesh.load(detector=False)
        >>> mesh.detector is None, len(list(mesh.parameters())) > 100
        (True, True)
    """

    def __init__(self, landmarks: nn.Module, blendshapes: nn.Module, detector: nn.Module | None = None) -> None:
        super().__init__()
        self.landmarks_net, self.blendshapes_net, self.detector = landmarks, blendshapes, detector
        self.register_buffer("anchors", ssd_anchors(), persistent=False)
        self.register_buffer("subset", torch.tensor(LANDMARKS_SUBSET), persistent=False)

    @classmethod
    def load(cls, path: str | Path | None = None, detector: bool = True) -> "FaceMesh":
        """From a ``face_landmarker.task`` bundle (default: the installed, checked one)."""
        path = Path(path) if path is not None else registry_file("face_landmarker.task")
        try:
            with zipfile.ZipFile(path) as bundle:
                data = {name: bundle.read(name) for name in _NETS}
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise CheckpointError(f"{path}: not a MediaPipe face_landmarker.task bundle "
                                  f"({type(exc).__name__}: {exc})".splitlines()[0]) from None
        nets = [convert_tflite(data[name]).eval() for name in _NETS]
        return cls(nets[1], nets[2], nets[0] if detector else None).eval()

    @torch.no_grad()
    def detect(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The best face's box (x0, y0, x1, y1), score and 6 keypoints (x, y: the eyes, image left
        first, nose tip, mouth centre, ears) in the faces' pixels, (N, 4), (N,) and (N, 6, 2);
        score 0 where nothing reaches :data:`MIN_CONFIDENCE`."""
        n, _, height, width = faces.shape
        side = float(max(height, width))  # letterbox: the whole image in a centred square
        left, top = (width - side) / 2, (height - side) / 2
        start = faces.new_full((n,), left), faces.new_full((n,), top), faces.new_full((n,), side)
        x = crop_squares(faces, *start, DETECTOR_SIZE, padding="zeros") / 127.5 - 1.0
        regressors, scores = self.detector(x.permute(0, 2, 3, 1))
        raw = regressors / DETECTOR_SIZE
        centre = raw[..., :2] + self.anchors
        boxes = torch.cat([centre - raw[..., 2:4] / 2, centre + raw[..., 2:4] / 2,  # (N, 896, 4 + 12)
                           (raw[..., 4:].unflatten(-1, (6, 2)) + self.anchors[:, None]).flatten(-2)], dim=-1)
        probs = torch.sigmoid(scores[..., 0].clamp(-100, 100))
        best = probs.argmax(dim=1)
        top_box = boxes[torch.arange(n), best][:, None]
        lo, hi = torch.maximum(boxes[..., :2], top_box[..., :2]), torch.minimum(boxes[..., 2:4], top_box[..., 2:4])
        inter = (hi - lo).clamp_min(0).prod(-1)
        area = lambda b: (b[..., 2:4] - b[..., :2]).clamp_min(0).prod(-1)  # noqa: E731
        iou = inter / (area(boxes) + area(top_box) - inter).clamp_min(1e-12)
        weight = probs * (probs >= MIN_CONFIDENCE) * (iou > NMS_IOU)
        box = (weight[..., None] * boxes).sum(1) / weight.sum(1, keepdim=True).clamp_min(1e-12)
        box = box * side + faces.new_tensor([left, top]).repeat(8)
        score = probs[torch.arange(n), best]
        return box[:, :4], torch.where(score >= MIN_CONFIDENCE, score, torch.zeros_like(score)), \
            box[:, 4:].unflatten(-1, (6, 2))

    def rois(self, faces: torch.Tensor, template: AlignmentTemplate | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each face's ROI (left, top, side) in its pixels, (N, 3), and whether the detector placed it."""
        n = faces.shape[0]
        template = template or dlib_chip_template(int(faces.shape[2]), 0.25)  # the toolkit's default
        left, top, right, _ = template.face_box()
        w = right - left
        fallback = faces.new_tensor([left + TEMPLATE_BOX[0] * w, top + TEMPLATE_BOX[1] * w, TEMPLATE_BOX[2] * w])
        centre_side = fallback.expand(n, 3)
        detected = torch.zeros(n, dtype=torch.bool, device=faces.device)
        if self.detector is not None:
            box, score, _ = self.detect(faces)
            found = box[:, 2:] - box[:, :2]
            measured = torch.cat([(box[:, :2] + box[:, 2:]) / 2, found.max(dim=1, keepdim=True).values], dim=1)
            detected = score > 0
            centre_side = torch.where(detected[:, None], measured, centre_side)
        side = centre_side[:, 2] * ROI_SCALE
        return torch.stack([centre_side[:, 0] - side / 2, centre_side[:, 1] - side / 2, side], dim=1), detected

    def blendshapes(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 52) blendshape scores from (N, 478, 2+) landmarks in image pixels."""
        subset = points[:, self.subset, :2].contiguous()
        return torch.func.vmap(lambda p: self.blendshapes_net(p[None]).reshape(-1))(subset)

    def forward(self, faces: torch.Tensor, template: AlignmentTemplate | None = None) -> MeshResult:
        boxes, detected = self.rois(faces, template)
        boxes = boxes.detach()
        crops = crop_squares(faces / 255.0, boxes[:, 0], boxes[:, 1], boxes[:, 2], MESH_SIZE).permute(0, 2, 3, 1)
        flat, presence_logit, _ = self.landmarks_net(crops)
        crop_points = flat.reshape(-1, 478, 3)
        scale = (boxes[:, 2] / MESH_SIZE)[:, None, None]
        points = crop_points * scale + torch.cat([boxes[:, :2], torch.zeros_like(boxes[:, :1])], dim=1)[:, None]
        return MeshResult(points, crop_points, torch.sigmoid(presence_logit.reshape(-1)), self.blendshapes(points),
                          boxes, crops, detected)
