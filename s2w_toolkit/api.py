"""The short path: explain a pair in one call, from photos, aligned faces or tensors, with a
registered backbone or any ``nn.Module``.

:func:`explain` loads what it is given by name (backbone, attribute models), builds the
explainer with its options, runs it the complete way (:meth:`Explainer.__call__
<s2w_toolkit.interfaces.Explainer.__call__>`) and returns the
:class:`~s2w_toolkit.explainers.explanation.Explanation`, with the faces attached: ``.figure()``
draws it, ``.save("out.json")`` writes JSON, ``.npz`` and PNG, and a notebook shows it inline.

Example:
    >>> import s2w_toolkit as s2w
    >>> from s2w_toolkit.data import demo_image
    >>> e = s2w.explain(demo_image("obama"), demo_image("obama2"), explainer="input-gradient")
    >>> e.backbone, e.same_person, e.maps["a"].shape
    ('dlib-resnet', True, (150, 150))
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .backbones.base import Backbone
from .errors import OptionError, S2WError
from .explainers.explanation import Explanation
from .interfaces import AttributeModel, Explainer, Pair

#: What :func:`explain` takes for a face: a photo's path, an aligned RGB uint8 face (or a PIL
#: image), or the network's input tensor ``(1, 3, H, W)`` / ``(3, H, W)``.
FaceInput = Any


def explain(a: FaceInput, b: FaceInput, explainer: str | Explainer | Sequence[str | Explainer] = "sim2word",
            backbone: str | Backbone | nn.Module = "dlib-resnet", *, attributes: str | AttributeModel | None = None,
            device: str = "auto", weights: str | None = None, aligned: bool | None = None,
            face_index: int | tuple[int, int] = 0, **options: Any) -> Explanation | dict[str, Explanation]:
    """Explain why ``backbone`` finds faces ``a`` and ``b`` similar or not.

    * ``a``, ``b``: photo paths (the face is found and aligned; ``aligned=True`` takes them as
      cropped faces), aligned faces as RGB uint8 arrays or PIL images (``aligned=False`` finds
      the face in them first), or tensors the network reads as they are (the picture drawn is
      recovered from the backbone's preprocessing).
    * ``explainer``: a registered name, an explainer instance, or several of either (then a
      mapping name -> Explanation; an explainer that fails is left out, with a warning, and
      the others run).
    * ``backbone``: a registered name (loaded with ``weights`` on ``device``), a
      :class:`~s2w_toolkit.backbones.base.Backbone`, or any ``nn.Module`` mapping faces to
      embeddings (wrapped by :func:`~s2w_toolkit.backbones.wrapped.wrap_module` with its
      defaults and the tensors' size: wrap it yourself to state its normalisation).
    * ``attributes``: for explainers that speak in words, attribute model names
      (``"mediapipe,faceres"``) or a model; the defaults when None.
    * ``options``: the explainers' options (``fill="black"``, ``placements=9``); an option no
      selected explainer declares is an :class:`~s2w_toolkit.errors.OptionError`.
    """
    chosen = [explainer] if isinstance(explainer, (str, Explainer)) else list(explainer)
    if not chosen:
        raise OptionError("no explainer given")
    named = [e for e in chosen if isinstance(e, str)]
    if options and not named:
        raise OptionError(f"options {sorted(options)} are for explainers given by name; "
                          "set them on the explainer instances instead")
    built = _build(chosen, options)
    net = _backbone(backbone, weights, device, a, b)
    pair = as_pair(a, b, net, aligned=aligned, face_index=face_index)
    model = None
    if any(getattr(e, "uses_attributes", False) for e in built.values()):
        model = _attributes(attributes, str(net.device))
    if isinstance(explainer, (str, Explainer)):
        only = next(iter(built.values()))
        return only(pair, net, model if only.uses_attributes else None)
    results = {}
    for name, instance in built.items():
        try:
            results[name] = instance(pair, net, model if instance.uses_attributes else None)
        except S2WError as exc:
            warnings.warn(f"{name}: {exc}", stacklevel=2)
    return results


def as_pair(a: FaceInput, b: FaceInput, backbone: Backbone, aligned: bool | None = None,
            face_index: int | tuple[int, int] = 0) -> Pair:
    """A :class:`~s2w_toolkit.interfaces.Pair` for ``backbone`` from two faces of any kind
    :func:`explain` takes."""
    from .pipeline import face_indices, load_pair

    if all(_is_path(x) for x in (a, b)):
        return load_pair(a, b, backbone, face_index, aligned=bool(aligned))
    index = face_indices(face_index)
    sides = [_side(x, backbone, aligned, i, what) for x, i, what in zip((a, b), index, ("a", "b"))]
    (x_a, image_a, source_a), (x_b, image_b, source_b) = sides
    return Pair(a=x_a, b=x_b, image_a=image_a, image_b=image_b, source_a=source_a, source_b=source_b)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _side(x: Any, backbone: Backbone, aligned: bool | None, index: int, what: str) -> tuple[Any, np.ndarray, str]:
    """(network input, aligned face for the figure, source name) of one face."""
    from .pipeline import load_face

    if _is_path(x):
        face, _ = load_face(x, backbone, index, aligned=bool(aligned))
        return backbone.preprocess(face), face, str(x)
    if isinstance(x, torch.Tensor):
        tensor = x.detach().to(backbone.device, torch.float32)
        tensor = tensor.unsqueeze(0) if tensor.ndim == 3 else tensor
        if tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
            raise S2WError(f"face {what}: a tensor must be (1, 3, H, W) or (3, H, W), got {tuple(x.shape)}")
        return tensor, _picture(tensor, backbone), f"tensor {what}"
    face = np.asarray(x)
    if face.ndim != 3 or face.shape[2] != 3 or face.dtype != np.uint8:
        raise S2WError(f"face {what}: an image must be RGB uint8 (H, W, 3), got {face.dtype} {face.shape}")
    if aligned is False or face.shape[:2] != tuple(backbone.template.size):
        from .pipeline import face_from_image

        face, _ = face_from_image(face, backbone, index, aligned is not False, f"image {what}")
    return backbone.preprocess(face), face, f"image {what}"


def _picture(tensor: torch.Tensor, backbone: Backbone) -> np.ndarray:
    """The RGB uint8 face a network input shows: the backbone's preprocessing undone."""
    rgb = backbone.preprocess_params().undo(tensor)
    return rgb[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).cpu().numpy()


def _build(chosen: list[str | Explainer], options: dict[str, Any]) -> dict[str, Explainer]:
    """Each explainer by name, the named ones constructed with their share of ``options``."""
    from .options import route_options
    from .pipeline import build_explainer
    from .registry import get_registry

    registry = get_registry()
    classes = {e: registry.explainer(e) for e in chosen if isinstance(e, str)}
    routed = route_options(classes, options) if classes else {}
    built = {}
    for e in chosen:
        instance = build_explainer(classes[e], routed[e]) if isinstance(e, str) else e
        built[instance.name or type(instance).__name__] = instance
    return built


def _backbone(backbone: str | Backbone | nn.Module, weights: str | None, device: str, a: Any, b: Any) -> Backbone:
    from .pipeline import load_backbone

    if isinstance(backbone, str):
        return load_backbone(backbone, weights=weights, device=device)
    if isinstance(backbone, Backbone):
        return backbone
    if isinstance(backbone, nn.Module):
        from .backbones.wrapped import wrap_module

        sizes = [tuple(x.shape[-2:]) for x in (a, b) if isinstance(x, torch.Tensor)]
        return wrap_module(backbone, input_size=sizes[0] if sizes else (112, 112))
    raise S2WError(f"backbone must be a name, a Backbone or an nn.Module, got {type(backbone).__name__}")


def _attributes(attributes: str | AttributeModel | Mapping | None, device: str) -> AttributeModel:
    if isinstance(attributes, AttributeModel):
        return attributes.to(device)
    from .attributes.composite import load_attributes

    return load_attributes(attributes, None, device=device)
