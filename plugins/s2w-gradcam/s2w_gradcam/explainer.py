"""The explainers: Grad-CAM and its baselines on a pair's cosine similarity, via Captum.

Side a is explained by ``S_a(x) = cos(embed(x), embed(b))`` at ``x = a`` with the embedding
of b detached (a fixed target); side b the same with a and b swapped. Each side gets one map,
at the face's size, min-max normalised to [0, 1] (a flat map is 0). The pipeline is the core's
:class:`~s2w_toolkit.explainers.families.SimilarityExplainer`; each explainer here fills in its
family's one step: the CAM methods are layer explainers, Integrated Gradients a gradient
explainer, Occlusion a perturbation explainer.

Example:
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from s2w_toolkit.backbones.wrapped import wrap_module
    >>> from s2w_toolkit.interfaces import Pair
    >>> torch.manual_seed(0) and None
    >>> net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
    ...                   input_size=(16, 16))
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    >>> x = net.preprocess(faces)
    >>> pair = Pair(a=x[:1], b=x[1:], image_a=faces[0], image_b=faces[1])
    >>> e = LayerCAMExplainer().explain(pair, net)
    >>> e.maps["a"].shape, e.metadata["method"], bool(0 <= e.maps["b"].min() <= e.maps["b"].max() <= 1)
    ((16, 16), 'layercam', True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import torch

from s2w_toolkit.explainers.families import (
    GradientExplainer,
    LayerExplainer,
    PerturbationExplainer,
    SideAttribution,
    layer_name,
)
from s2w_toolkit.options import BaseOptions
from s2w_toolkit.targets import SimilarityTo

from . import maps as M

Method = Literal["gradcam", "gradcam++", "layercam", "integrated-gradients", "occlusion"]
METHODS = get_args(Method)

REFERENCES = {
    "gradcam": "Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based "
               "Localization, ICCV 2017, arXiv:1610.02391",
    "gradcam++": "Chattopadhyay et al., Grad-CAM++: Generalized Gradient-based Visual Explanations for "
                 "Deep Convolutional Networks, WACV 2018, arXiv:1710.11063",
    "layercam": "Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization, "
                "IEEE Transactions on Image Processing 30, 2021",
    "integrated-gradients": "Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017, "
                            "arXiv:1703.01365",
    "occlusion": "Zeiler and Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014, "
                 "arXiv:1311.2901",
}

FORMULAS = {
    "gradcam": "relu(sum_k mean_ij(g_k) A_k), g = dS/dA at the CAM layer; bilinear upsampling; min-max",
    "gradcam++": "relu(sum_k w_k A_k), w_k = sum_ij alpha_kij relu(g_kij), "
                 "alpha = g^2 / (2 g^2 + sum_ab A_kab g^3) (0 where the denominator is 0); "
                 "bilinear upsampling; min-max",
    "layercam": "relu(sum_k relu(g_k) * A_k); bilinear upsampling; min-max",
    "integrated-gradients": "sum_c |IG_c(x)| with a black baseline; min-max",
    "occlusion": "sum_c of Captum's Occlusion attribution (mean similarity drop of the patches "
                 "covering the pixel); min-max",
}

DEFAULTS = {"batch_size": 64, "steps": 32, "window": 15, "stride": 8}


def _steps() -> Any:
    return field(default=DEFAULTS["steps"], metadata={"help": "integrated-gradients: quadrature points", "min": 1})


def _window() -> Any:
    return field(default=DEFAULTS["window"], metadata={"help": "occlusion: side of the square patch, pixels", "min": 1})


def _stride() -> Any:
    return field(default=DEFAULTS["stride"], metadata={"help": "occlusion: step between patches, pixels", "min": 1})


@dataclass(frozen=True)
class IntegratedGradientsOptions(BaseOptions):
    """Options of ``integrated-gradients``; ``batch_size`` is Captum's ``internal_batch_size``.

    Example:
        >>> IntegratedGradientsOptions().steps
        32
    """

    steps: int = _steps()


@dataclass(frozen=True)
class OcclusionOptions(BaseOptions):
    """Options of ``occlusion``; ``batch_size`` is Captum's ``perturbations_per_eval``.

    Example:
        >>> OcclusionOptions().window, OcclusionOptions().stride
        (15, 8)
    """

    window: int = _window()
    stride: int = _stride()


@dataclass(frozen=True)
class GradCAMOptions(BaseOptions):
    """Options of ``gradcam``: its ``method`` and every method's options.

    Example:
        >>> GradCAMOptions().method
        'gradcam'
    """

    method: Method = field(default="gradcam", metadata={"help": "the method to run"})
    steps: int = _steps()
    window: int = _window()
    stride: int = _stride()


def _captum_version() -> str:
    import captum

    return str(captum.__version__)


def _described(method: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"method": method, "reference": REFERENCES[method], "formula": FORMULAS[method],
            "implementation": f"captum {_captum_version()}", "parameters": parameters}


BLACK = "black face: backbone.preprocess of an all-zero image"


class IntegratedGradientsExplainer(GradientExplainer):
    """Integrated Gradients of the similarity on the pixels (``-e integrated-gradients``), from
    the black face; its options are :class:`IntegratedGradientsOptions`.

    Example:
        >>> IntegratedGradientsExplainer(steps="8", batch_size=4).describe()["parameters"]["steps"]
        8
    """

    name = "integrated-gradients"
    Options = IntegratedGradientsOptions
    method = "integrated-gradients"
    fast_options = {"steps": "8"}  # the conformance tests

    def describe(self) -> dict[str, Any]:
        parameters = {"steps": self.options.steps, "batch_size": self.options.batch_size,
                      "quadrature": "gausslegendre", "baseline": BLACK}
        return {**_described(self.method, parameters),
                "extra_map": "signed-attribution: sum over channels of the IG attributions, not normalised; "
                             "it sums to about S(face) - S(black baseline)"}

    def raw_map_name(self) -> str:
        return "signed-attribution"

    def attribute_side(self, forward: SimilarityTo, backbone: Any, x: torch.Tensor) -> SideAttribution:
        baseline = self.baseline(backbone, x)
        with torch.no_grad():
            info: dict[str, Any] = {"baseline_similarity": float(forward(baseline)[0])}
        attributions, delta = M.integrated_gradients(forward, x, baseline, self.options.steps,
                                                     self.options.batch_size)
        info["attribution_sum"] = float(attributions.sum())
        info["convergence_delta"] = delta
        return SideAttribution(attributions.abs().sum(dim=1, keepdim=True), attributions.sum(dim=1)[0], info)


class OcclusionExplainer(PerturbationExplainer):
    """Occlusion of the similarity (``-e occlusion``): how much hiding each patch with the black
    face lowers it; its options are :class:`OcclusionOptions`.

    Example:
        >>> OcclusionExplainer(window="30", stride="10").describe()["parameters"]["window"]
        30
    """

    name = "occlusion"
    Options = OcclusionOptions
    method = "occlusion"
    fast_options = {"window": "30", "stride": "20"}  # the conformance tests: 49 patches per side

    def describe(self) -> dict[str, Any]:
        parameters = {"window": self.options.window, "stride": self.options.stride,
                      "batch_size": self.options.batch_size, "baseline": BLACK,
                      "occluded": "all channels of a window x window patch"}
        return {**_described(self.method, parameters),
                "extra_map": "similarity-drop: per pixel, the mean drop of the cosine similarity when a patch "
                             "covering it is set to the black baseline, not normalised; positive where "
                             "occluding lowers the score"}

    def raw_map_name(self) -> str:
        return "similarity-drop"

    def attribute_side(self, forward: SimilarityTo, backbone: Any, x: torch.Tensor) -> SideAttribution:
        window, stride = self.options.window, self.options.stride
        h, w = (int(n) for n in x.shape[-2:])
        if window > min(h, w):
            raise ValueError(f"occlusion window {window} is larger than the {h}x{w} face")
        baseline = self.baseline(backbone, x)
        with torch.no_grad():
            info: dict[str, Any] = {"baseline_similarity": float(forward(baseline)[0])}
        attributions = M.occlusion(forward, x, baseline, window, stride, self.options.batch_size)
        # Captum's count: the last patch may be cut by the border
        info["patches"] = (-(-(h - window) // stride) + 1) * (-(-(w - window) // stride) + 1)
        return SideAttribution(attributions.sum(dim=1, keepdim=True), attributions.mean(dim=1)[0], info)


#: The explainers that run the gradcam explainer's non-CAM ``method`` values.
OTHER_METHODS: dict[str, type] = {"integrated-gradients": IntegratedGradientsExplainer,
                                  "occlusion": OcclusionExplainer}


class GradCAMExplainer(LayerExplainer):
    """Grad-CAM of the cosine similarity at ``backbone.cam_layer``; ``method`` picks another.

    Options (:class:`GradCAMOptions`; strings from the CLI are converted): ``method``
    (``gradcam``, ``gradcam++``, ``layercam``, ``integrated-gradients``, ``occlusion``; default
    ``gradcam``), ``steps`` (Integrated Gradients, 32), ``window`` and ``stride`` (Occlusion, 15
    and 8 pixels) and ``batch_size`` (faces per forward pass for both, 64). A non-CAM method is
    run by its own explainer (:data:`OTHER_METHODS`), under this explainer's name. The
    explainers named after one method declare only the options that method uses.

    Example:
        >>> GradCAMExplainer().method, GradCAMExplainer(method="occlusion", window="20").describe()["parameters"]["window"]
        ('gradcam', 20)
        >>> GradCAMExplainer(method="bogus")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.OptionError: explainer 'gradcam': option 'method' wants one of: gradcam, ...
    """

    name = "gradcam"
    Options = GradCAMOptions
    #: The method this explainer runs unless its options choose another.
    method: ClassVar[str] = "gradcam"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.method = getattr(self.options, "method", type(self).method)
        self.other = None
        if self.method in OTHER_METHODS:
            cls = OTHER_METHODS[self.method]
            wanted = {f.name for f in dataclasses.fields(cls.Options)}
            self.other = cls(**{k: v for k, v in dataclasses.asdict(self.options).items() if k in wanted})

    def describe(self) -> dict[str, Any]:
        if self.other is not None:
            return {**self.other.describe(), "family": self.other.family}
        return _described(self.method, {"upsampling": "bilinear", "normalisation": "relu, then min-max per map"})

    def raw_map_name(self) -> str:
        return self.other.raw_map_name() if self.other is not None else super().raw_map_name()

    def attribute_side(self, forward: SimilarityTo, backbone: Any, x: torch.Tensor) -> SideAttribution:
        if self.other is not None:
            return self.other.attribute_side(forward, backbone, x)
        layer = self.layer(backbone)
        heat = M.cam(self.method, forward, layer, x)
        return SideAttribution(heat, None, {"layer": layer_name(backbone, layer), "layer_size": list(heat.shape[-2:])})


class GradCAMPlusPlusExplainer(GradCAMExplainer):
    """Grad-CAM++ of the similarity (``-e gradcam++``): the ``gradcam`` explainer with its method
    fixed; it has no ``method`` option.

    Example:
        >>> GradCAMPlusPlusExplainer().method
        'gradcam++'
    """

    name = "gradcam++"
    Options = BaseOptions
    method = "gradcam++"


class LayerCAMExplainer(GradCAMExplainer):
    """LayerCAM of the similarity (``-e layercam``): a gradient weight per position.

    Example:
        >>> LayerCAMExplainer().method
        'layercam'
    """

    name = "layercam"
    Options = BaseOptions
    method = "layercam"
