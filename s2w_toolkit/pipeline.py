"""From image files to a :class:`~s2w_toolkit.interfaces.Pair`, and running explainers on it.

Example:
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("obama2"), net)
    >>> pair.a.shape, pair.image_a.shape
    (torch.Size([1, 3, 150, 150]), (150, 150, 3))
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .backbones.base import Backbone
from .devices import resolve_device
from .errors import CheckpointError, PluginError, S2WError
from .explainers.explanation import Explanation
from .faces.align import align_face
from .faces.cache import FaceCache
from .faces.detect import FaceDetector
from .interfaces import AttributeModel, Explainer, Pair
from .io.images import read_image
from .io.paths import usable_path
from .registry import get_registry


def load_backbone(name: str = "dlib-resnet", weights: str | None = None, device: str = "auto") -> Backbone:
    """A registered backbone by name, with its weights, in eval mode on ``device``."""
    target = resolve_device(device)
    cls = get_registry().backbone(name)
    net = call_plugin(f"backbone {name!r}", cls.load, weights)
    bad = next((key for key, t in net.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()),
               None)
    if bad is not None:
        source = weights if weights is not None else f"the packaged weights of {name}"
        raise CheckpointError(f"{source}: tensor {bad!r} holds NaN or infinite values; the checkpoint is damaged")
    return net.eval().to(target)


def load_face(path: str | Path, backbone: Backbone, face_index: int = 0, aligned: bool = False,
              detector: FaceDetector | None = None) -> tuple[np.ndarray, dict]:
    """Read a photo and return the face aligned to ``backbone.template`` (RGB uint8) and info.

    With ``aligned=True`` the photo is taken as an already cropped face and only resized (see
    :func:`~s2w_toolkit.faces.align.resize_aligned`: at least 32 px, a warning if not square).
    """
    if isinstance(face_index, (tuple, list)):
        raise TypeError(f"load_face takes one face index, got {face_index!r} "
                        "(--face-index-a/--face-index-b are for pairs of images)")
    image = read_image(usable_path(path))  # a name no file can have is an ImageError naming it
    return face_from_image(image, backbone, face_index, aligned, str(path), detector)


def face_from_image(image: np.ndarray, backbone: Backbone, face_index: int = 0, aligned: bool = False,
                    source: str = "image", detector: FaceDetector | None = None) -> tuple[np.ndarray, dict]:
    """:func:`load_face` for an RGB uint8 image already in memory (``source`` names it in errors)."""
    from .faces.align import resize_aligned

    if aligned:
        return resize_aligned(image, backbone.template.size, source), {"source": source, "aligned": True}
    if detector is None or detector.landmarks != backbone.template.landmarks:
        detector = FaceDetector(landmarks=backbone.template.landmarks)
    found = detector.find(image, face_index, source=source)
    face = align_face(image, found.landmarks, backbone.template)
    return face, {"source": source, "box": list(found.box), "aligned": False, "face_index": face_index}


def face_indices(face_index: int | tuple[int, int]) -> tuple[int, int]:
    """``(index_a, index_b)`` from one index for both photos or a pair of them.

    Example:
        >>> face_indices(2), face_indices((0, 1))
        ((2, 2), (0, 1))
    """
    return face_index if isinstance(face_index, tuple) else (face_index, face_index)


def load_pair(path_a: str | Path, path_b: str | Path, backbone: Backbone, face_index: int | tuple[int, int] = 0,
              aligned: bool = False, cache: FaceCache | None = None) -> Pair:
    """Detect, align and preprocess two photos for ``backbone``; ``face_index`` is one index for
    both photos or ``(index_a, index_b)``; ``cache`` (a :class:`~s2w_toolkit.faces.cache.FaceCache`)
    detects and aligns each (file content, face index, template) once."""
    index_a, index_b = face_indices(face_index)
    detector = FaceDetector(landmarks=backbone.template.landmarks)

    def face(path: str | Path, index: int) -> tuple[np.ndarray, dict]:
        compute = lambda: load_face(path, backbone, index, aligned, detector)  # noqa: E731
        return compute() if cache is None else cache.load(path, backbone.template, index, aligned, compute)

    face_a, info_a = face(path_a, index_a)
    face_b, info_b = face(path_b, index_b)
    batch = backbone.preprocess(np.stack([face_a, face_b]))
    return Pair(a=batch[:1], b=batch[1:], image_a=face_a, image_b=face_b, source_a=str(path_a),
                source_b=str(path_b), info={"a": info_a, "b": info_b})


@torch.no_grad()
def verify(pair: Pair, backbone: Backbone) -> dict:
    """Cosine similarity, threshold and verdict of a pair."""
    score = backbone.similarity(pair.a, pair.b).item()
    if not np.isfinite(score):
        raise S2WError(f"backbone {backbone.name!r} gave a non-finite embedding for {pair.source_a} or {pair.source_b}")
    return {
        "a": pair.source_a,
        "b": pair.source_b,
        "backbone": backbone.name,
        "similarity": score,
        "threshold": backbone.threshold,
        "same_person": score >= backbone.threshold,
    }


def call_plugin(what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a plugin's ``function``; any failure, ``sys.exit()`` included, becomes a one-line
    :class:`PluginError` that starts with ``what``. Ctrl-C still stops the run."""
    try:
        return function(*args, **kwargs)
    except S2WError:
        raise
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise PluginError(f"{what} called sys.exit({exc.code!r})") from None
    except Exception as exc:
        raise PluginError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def build_explainer(cls: type[Explainer], options: dict[str, Any] | None = None) -> Explainer:
    """``cls(**options)``; a constructor that rejects its options or fails is a :class:`PluginError`."""
    return call_plugin(f"explainer {cls.name!r} with options {options or {}}", cls, **(options or {}))


def isolated_copy(pair: Pair) -> Pair:
    """A copy of ``pair`` that an explainer may change in place without touching the original."""
    return replace(pair, a=pair.a.detach().clone(), b=pair.b.detach().clone(), image_a=pair.image_a.copy(),
                   image_b=pair.image_b.copy(), info=copy.deepcopy(pair.info))


def run_explainer(explainer: Explainer, pair: Pair, backbone: Backbone,
                  attributes: AttributeModel | None = None) -> Explanation:
    """``explainer(pair, backbone, attributes)`` (:meth:`Explainer.__call__`), kept for callers
    written before explainers were callable."""
    return explainer(pair, backbone, attributes)
