"""Family bases for explainers of a pair's similarity, as Captum has them for attributions.

:class:`SimilarityExplainer` is the one pipeline: both faces' unit embeddings from one batched
pass (:func:`~s2w_toolkit.targets.pair_units`), then each side explained on its own with
``S(x) = cos(embed(x), other face's embedding)``, the other embedding detached
(:class:`~s2w_toolkit.targets.SimilarityTo`). A subclass overrides one step,
:meth:`~SimilarityExplainer.attribute_side`; the base brings each map to the face's size,
min-max normalises it, keeps a raw map in the method's own units when there is one, and
writes the metadata. The three families differ in what that step reads:

* :class:`LayerExplainer`: a layer's activations and their gradients (the Grad-CAM family);
  the layer is ``backbone.cam_layer`` (:meth:`~LayerExplainer.layer`).
* :class:`GradientExplainer`: gradients with respect to the pixels (Integrated Gradients);
* :class:`PerturbationExplainer`: scores of perturbed faces, ``batch_size`` at a time
  (Occlusion, RISE).

Gradient and perturbation methods start from :meth:`~SimilarityExplainer.baseline`, the black
face in the backbone's input space (:func:`~s2w_toolkit.fills.black_input`).

Example:
    >>> import torch
    >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
    >>> class Gradient(GradientExplainer):
    ...     name = "plain-gradient"
    ...     def attribute_side(self, forward, backbone, x):
    ...         x = x.detach().requires_grad_(True)
    ...         with torch.enable_grad():
    ...             (grad,) = torch.autograd.grad(forward(x).sum(), (x,))
    ...         return SideAttribution(heat=grad.abs().sum(dim=1, keepdim=True))
    >>> net = tiny_backbone()
    >>> e = Gradient().explain(pair_from_faces(net, *random_faces(2, 16)), net)
    >>> e.maps["a"].shape, e.metadata["family"], float(e.maps["b"].max())
    ((16, 16), 'gradient', 1.0)
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..cam import normalise_maps
from .explanation import Explanation
from ..fills import black_input
from ..interfaces import AttributeModel, Explainer, Pair
from ..targets import SimilarityTo, pair_units

#: What every side's score is, for the metadata.
TARGET = ("side a: S(x) = cos(embed(x), embed(b)) at x = a, embed(b) detached; "
          "side b: the same with a and b swapped")


@dataclass
class SideAttribution:
    """One face's attribution: ``heat`` ``(1, 1, h, w)`` (any resolution, any sign: the base
    upsamples it and min-max normalises it), optionally a ``raw`` ``(H, W)`` map in the method's
    own units, and ``info`` for the metadata.

    Example:
        >>> import torch
        >>> SideAttribution(heat=torch.ones(1, 1, 2, 2)).info
        {}
    """

    heat: torch.Tensor
    raw: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


def to_face(heat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``heat`` ``(N, 1, h, w)`` at the face's ``size``: bilinear, then min-max per map (a flat
    map, or one without a finite value, becomes 0).

    Example:
        >>> import torch
        >>> to_face(torch.tensor([[[[0.0, 2.0]]]]), (1, 4)).flatten().tolist()
        [0.0, 0.25, 0.75, 1.0]
    """
    heat = torch.nan_to_num(heat.float(), nan=0.0, posinf=0.0, neginf=0.0)
    if tuple(heat.shape[-2:]) != tuple(size):
        heat = F.interpolate(heat, size=size, mode="bilinear", align_corners=False)
    return normalise_maps(heat)


def layer_name(backbone: Any, layer: Any) -> str:
    """The dotted name of ``layer`` inside ``backbone`` (its class name if not found).

    Example:
        >>> from torch import nn
        >>> body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        >>> layer_name(body, body[1]), layer_name(body, nn.Tanh())
        ('1', 'Tanh')
    """
    for name, module in backbone.named_modules():
        if module is layer:
            return name
    return type(layer).__name__


class SimilarityExplainer(Explainer):
    """The one pipeline of the family bases (see the module docs); override :meth:`attribute_side`.

    Example:
        >>> SimilarityExplainer.family, LayerExplainer.family, PerturbationExplainer.family
        ('', 'layer', 'perturbation')
    """

    #: The family, for the metadata: ``layer``, ``gradient`` or ``perturbation``.
    family: ClassVar[str] = ""

    @abstractmethod
    def attribute_side(self, forward: SimilarityTo, backbone: Any, x: torch.Tensor) -> SideAttribution:
        """Attribute ``forward(x)`` (one face ``x`` ``(1, 3, H, W)``, detached) to the face."""

    def describe(self) -> dict[str, Any]:
        """The method's own metadata (reference, formula, parameters), merged into the result's."""
        return {}

    def raw_map_name(self) -> str:
        """The name under which the raw maps are kept (``extra_maps``)."""
        return "raw"

    def baseline(self, backbone: Any, x: torch.Tensor) -> torch.Tensor:
        """The reference face of gradient and perturbation methods: black, like ``x``."""
        return black_input(backbone, x)

    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        faces = {"a": pair.a.detach(), "b": pair.b.detach()}
        size = tuple(int(s) for s in faces["a"].shape[-2:])
        units = pair_units(backbone, pair)  # one batched pass gives both targets and the pair's cosine
        targets = {"a": units[:1], "b": units[1:]}
        maps, raw, details = {}, {}, {}
        for side, other in (("a", "b"), ("b", "a")):
            found = self.attribute_side(SimilarityTo(backbone.embed, targets[other]), backbone, faces[side])
            heat = found.heat.detach()
            info = dict(found.info)
            info["non_finite_values"] = int((~torch.isfinite(heat)).sum())
            info["peak"] = float(torch.nan_to_num(heat, nan=0.0, posinf=0.0, neginf=0.0).abs().max())
            maps[side] = to_face(heat, size)[0, 0]
            if found.raw is not None:
                raw[side] = torch.nan_to_num(found.raw.detach(), nan=0.0, posinf=0.0, neginf=0.0)
            details[side] = info
        metadata = {"family": self.family, **self.describe(),
                    "score": "cosine similarity of the pair (backbone.similarity)", "target": TARGET,
                    "sides": details}
        return Explanation(score=float((units[0] * units[1]).sum().item()), maps=maps,
                           extra_maps={self.raw_map_name(): raw} if raw else {}, explainer=self.name,
                           metadata=metadata)


class LayerExplainer(SimilarityExplainer):
    """Explainers that read a layer's activations (and gradients): :meth:`layer` picks it.

    Example:
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> net = tiny_backbone()
        >>> LayerExplainer.layer(net) is net.cam_layer
        True
    """

    family = "layer"

    @staticmethod
    def layer(backbone: Any) -> Any:
        """The layer explained: the backbone's CAM layer (see :mod:`s2w_toolkit.cam`)."""
        return backbone.cam_layer


class GradientExplainer(SimilarityExplainer):
    """Explainers built from gradients of the similarity with respect to the pixels.

    Example:
        >>> GradientExplainer.family
        'gradient'
    """

    family = "gradient"


class PerturbationExplainer(SimilarityExplainer):
    """Explainers built from the similarity of perturbed faces, scored ``batch_size`` at a time.

    Example:
        >>> PerturbationExplainer.family
        'perturbation'
    """

    family = "perturbation"
