"""Several attribute models speaking as one, and loading them by name.

Example:
    >>> parse_attribute_names("age-gender, face-parts")
    ['age-gender', 'face-parts']
    >>> default_attribute_names(weights=None), default_attribute_names(weights="net.pth")
    (['mediapipe', 'faceres', 'face-geometry', 'face-areas'], ['sim2word-resnet50'])
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..interfaces import AttributeModel
from .prediction import AttributePrediction

#: The attribute models used when none are named and no checkpoint is given: the learned face
#: models fetched by ``s2w models fetch`` and face-parts' geometric words.
DEFAULT_ATTRIBUTES = ("mediapipe", "faceres", "face-geometry", "face-areas")
#: The defaults where those model files are not installed (with a warning naming the command).
FALLBACK_ATTRIBUTES = ("age-gender", "face-parts", "face-areas")
#: The model used when none are named but ``--attribute-weights`` is given.
CHECKPOINT_ATTRIBUTES = ("sim2word-resnet50",)


class CompositeAttributes(AttributeModel):
    """The union of several models' attributes, in the order the models are given.

    Example:
        >>> from s2w_toolkit.attributes.sim2word_net import Sim2WordAttributes
        >>> both = CompositeAttributes([Sim2WordAttributes(), Sim2WordAttributes()])
        >>> both.name, len(both.attributes)
        ('sim2word-resnet50+sim2word-resnet50', 60)
    """

    def __init__(self, models: Sequence[AttributeModel]) -> None:
        if not models:
            raise ValueError("a composite needs at least one attribute model")
        self.models = list(models)
        self.name = "+".join(m.name for m in self.models)
        self.attributes = tuple(a for m in self.models for a in m.attributes)
        self.regions = {a: r for m in self.models for a, r in m.word_regions().items()}

    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        """Every model's columns; ``face-areas``' words described by the others' (:func:`describe_areas`)."""
        from .face_areas import describe_areas

        return describe_areas(AttributePrediction.concat([m.predict(images, template) for m in self.models]),
                              self.regions)

    def to(self, device: Any) -> "CompositeAttributes":
        self.models = [m.to(device) for m in self.models]
        return self


def parse_attribute_names(spec: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` as a list of names, in order, without repeats."""
    parts = [spec] if isinstance(spec, str) else list(spec or [])
    names = [name.strip() for part in parts for name in part.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def default_attribute_names(weights: str | None) -> list[str]:
    """:data:`DEFAULT_ATTRIBUTES`, or :data:`CHECKPOINT_ATTRIBUTES` when a checkpoint is given
    (``linear-heads`` when it is a file that ``s2w attributes train`` wrote)."""
    if weights and "=" not in weights:
        from .linear_heads import is_heads_file

        if is_heads_file(weights):
            return ["linear-heads"]
    return list(CHECKPOINT_ATTRIBUTES if weights else DEFAULT_ATTRIBUTES)


def _split_weights(weights: str | None, names: list[str]) -> dict[str, str]:
    """``PATH`` goes to the first model; ``NAME=PATH[,NAME=PATH]`` to the named ones."""
    if not weights:
        return {}
    pairs = [w.split("=", 1) for w in weights.split(",")] if "=" in weights else [[names[0], weights]]
    unknown = [name for name, _ in pairs if name not in names]
    if unknown:
        from ..errors import PluginError

        raise PluginError(f"--attribute-weights names {unknown[0]!r}, which is not among --attributes "
                          f"{','.join(names)}")
    return {name: path for name, path in pairs}


def load_attributes(spec: str | Sequence[str] | None = None, weights: str | None = None,
                    device: str = "cpu") -> AttributeModel:
    """The named attribute models (default: :func:`default_attribute_names`), loaded and on
    ``device``; one model as itself, several as a :class:`CompositeAttributes`."""
    from ..devices import resolve_device
    from ..registry import get_registry

    from ..errors import CheckpointError

    names = parse_attribute_names(spec) or default_attribute_names(weights)
    paths = _split_weights(weights, names)
    target = resolve_device(device)
    registry = get_registry()
    try:
        models = [registry.attribute_model(name).load(paths.get(name)).to(target) for name in names]
    except CheckpointError as exc:
        if names != list(DEFAULT_ATTRIBUTES) or "s2w models fetch" not in str(exc):
            raise
        import warnings

        warnings.warn(f"the default attribute models need their files ({exc}); using "
                      f"{','.join(FALLBACK_ATTRIBUTES)} instead", stacklevel=2)
        return load_attributes(FALLBACK_ATTRIBUTES, None, device)
    return models[0] if len(models) == 1 else CompositeAttributes(models)
