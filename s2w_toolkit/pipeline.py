"""From image files to a :class:`~s2w_toolkit.interfaces.Pair`, and running explainers on it.

Example:
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("obama2"), net)
    >>> pair.a.shape, pair.image_a.shape
    (torch.Size([1, 3, 150, 150]), (150, 150, 3))
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from skimage.transform import resize

from .backbone import Backbone
from .devices import resolve_device
from .errors import PluginError, S2WError
from .explanation import Explanation
from .faces.align import align_face
from .faces.detect import FaceDetector
from .interfaces import AttributeModel, Explainer, Pair
from .io.images import read_image
from .registry import get_registry


def load_backbone(name: str = "dlib-resnet", weights: str | None = None, device: str = "auto") -> Backbone:
    """A registered backbone by name, with its weights, in eval mode on ``device``."""
    target = resolve_device(device)
    cls = get_registry().backbone(name)
    return cls.load(weights).eval().to(target)


def load_face(path: str | Path, backbone: Backbone, face_index: int = 0, aligned: bool = False,
              detector: FaceDetector | None = None) -> tuple[np.ndarray, dict]:
    """Read a photo and return the face aligned to ``backbone.template`` (RGB uint8) and info.

    With ``aligned=True`` the photo is taken as an already cropped face and only resized.
    """
    image = read_image(path)
    size = backbone.template.size
    if aligned:
        face = resize(image, size, anti_aliasing=True, preserve_range=True)
        return np.clip(np.rint(face), 0, 255).astype(np.uint8), {"source": str(path), "aligned": True}
    if detector is None or detector.landmarks != backbone.template.landmarks:
        detector = FaceDetector(landmarks=backbone.template.landmarks)
    found = detector.find(image, face_index, source=str(path))
    face = align_face(image, found.landmarks, backbone.template)
    return face, {"source": str(path), "box": list(found.box), "aligned": False}


def load_pair(path_a: str | Path, path_b: str | Path, backbone: Backbone, face_index: int = 0,
              aligned: bool = False) -> Pair:
    """Detect, align and preprocess two photos for ``backbone``."""
    detector = FaceDetector(landmarks=backbone.template.landmarks)
    face_a, info_a = load_face(path_a, backbone, face_index, aligned, detector)
    face_b, info_b = load_face(path_b, backbone, face_index, aligned, detector)
    batch = backbone.preprocess(np.stack([face_a, face_b]))
    return Pair(a=batch[:1], b=batch[1:], image_a=face_a, image_b=face_b, source_a=str(path_a),
                source_b=str(path_b), info={"a": info_a, "b": info_b})


@torch.no_grad()
def verify(pair: Pair, backbone: Backbone) -> dict:
    """Cosine similarity, threshold and verdict of a pair."""
    score = backbone.similarity(pair.a, pair.b).item()
    return {
        "a": pair.source_a,
        "b": pair.source_b,
        "backbone": backbone.name,
        "similarity": score,
        "threshold": backbone.threshold,
        "same_person": score >= backbone.threshold,
    }


def run_explainer(explainer: Explainer, pair: Pair, backbone: Backbone,
                  attributes: AttributeModel | None = None) -> Explanation:
    """Run one explainer, fill in backbone, threshold and timing; wrap its failures in a
    one-line :class:`PluginError` naming it."""
    start = time.perf_counter()
    try:
        result = explainer.explain(pair, backbone, attributes)
    except S2WError:
        raise
    except Exception as exc:
        raise PluginError(f"explainer {explainer.name!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, Explanation):
        raise PluginError(f"explainer {explainer.name!r} returned {type(result).__name__}, not an Explanation")
    result.explainer = result.explainer or explainer.name
    result.backbone = result.backbone or backbone.name
    if result.threshold is None:
        result.threshold = backbone.threshold
    result.metadata.setdefault("seconds", time.perf_counter() - start)
    result.metadata.setdefault("device", str(backbone.device))
    result.metadata.setdefault("sources", {"a": pair.source_a, "b": pair.source_b})
    return result
