"""The explainers: Grad-CAM and its baselines on a pair's cosine similarity, via Captum.

Side a is explained by ``S_a(x) = cos(embed(x), embed(b))`` at ``x = a`` with the embedding
of b detached (a fixed target); side b the same with a and b swapped. Each side gets one map,
at the face's size, min-max normalised to [0, 1] (a flat map is 0).

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
    >>> e = LayerCam().explain(pair, net)
    >>> e.maps["a"].shape, e.metadata["method"], bool(0 <= e.maps["b"].min() <= e.maps["b"].max() <= 1)
    ((16, 16), 'layercam', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import torch

from s2w_toolkit.explanation import Explanation
from s2w_toolkit.interfaces import AttributeModel, Explainer, Pair
from s2w_toolkit.options import BaseOptions
from s2w_toolkit.targets import SimilarityTo, pair_units

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
class GradCamOptions(BaseOptions):
    """Options of ``gradcam``: its ``method`` and every method's options.

    Example:
        >>> GradCamOptions().method
        'gradcam'
    """

    method: Method = field(default="gradcam", metadata={"help": "the method to run"})
    steps: int = _steps()
    window: int = _window()
    stride: int = _stride()


def layer_name(backbone: Any, layer: Any) -> str:
    """The dotted name of ``layer`` inside ``backbone`` (its class name if not found)."""
    for name, module in backbone.named_modules():
        if module is layer:
            return name
    return type(layer).__name__


class GradCam(Explainer):
    """Grad-CAM of the cosine similarity at ``backbone.cam_layer``; ``method`` picks another.

    Options (:class:`GradCamOptions`; strings from the CLI are converted): ``method``
    (``gradcam``, ``gradcam++``, ``layercam``, ``integrated-gradients``, ``occlusion``; default
    ``gradcam``), ``steps`` (Integrated Gradients, 32), ``window`` and ``stride`` (Occlusion, 15
    and 8 pixels) and ``batch_size`` (faces per forward pass for both, 64). The explainers named
    after one method declare only the options that method uses.

    Example:
        >>> GradCam().method, GradCam(method="occlusion", window="20").window
        ('gradcam', 20)
        >>> GradCam(method="bogus")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.OptionError: explainer 'gradcam': option 'method' wants one of: gradcam, ...
    """

    name = "gradcam"
    Options = GradCamOptions
    #: The method this explainer runs unless its options choose another.
    method: ClassVar[str] = "gradcam"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.method = getattr(self.options, "method", type(self).method)
        self.batch_size = self.options.batch_size
        self.steps = getattr(self.options, "steps", DEFAULTS["steps"])
        self.window = getattr(self.options, "window", DEFAULTS["window"])
        self.stride = getattr(self.options, "stride", DEFAULTS["stride"])

    def settings(self) -> dict[str, Any]:
        """The options that apply to this explainer's method, for the metadata."""
        if self.method == "integrated-gradients":
            return {"steps": self.steps, "batch_size": self.batch_size, "quadrature": "gausslegendre",
                    "baseline": "black face: backbone.preprocess of an all-zero image"}
        if self.method == "occlusion":
            return {"window": self.window, "stride": self.stride, "batch_size": self.batch_size,
                    "baseline": "black face: backbone.preprocess of an all-zero image",
                    "occluded": "all channels of a window x window patch"}
        return {"upsampling": "bilinear", "normalisation": "relu, then min-max per map"}

    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        faces = {"a": pair.a.detach(), "b": pair.b.detach()}
        size = tuple(int(s) for s in faces["a"].shape[-2:])
        if self.method == "occlusion" and self.window > min(size):
            raise ValueError(f"occlusion window {self.window} is larger than the {size[0]}x{size[1]} face")
        units = pair_units(backbone, pair)  # one batched pass gives both targets and the pair's cosine
        targets = {"a": units[:1], "b": units[1:]}
        score = float((units[0] * units[1]).sum().item())
        maps, raw, details = {}, {}, {}
        for side, other in (("a", "b"), ("b", "a")):
            forward = SimilarityTo(backbone.embed, targets[other])
            heat, raw_map, info = self._side(forward, backbone, faces[side])
            info["non_finite_values"] = int((~torch.isfinite(heat)).sum())
            info["peak"] = float(torch.nan_to_num(heat, nan=0.0, posinf=0.0, neginf=0.0).abs().max())
            maps[side] = M.to_face(heat, size)[0, 0]
            if raw_map is not None:
                raw[side] = torch.nan_to_num(raw_map, nan=0.0, posinf=0.0, neginf=0.0)
            details[side] = info
        extra = {self.raw_name(): raw} if raw else {}
        metadata = {
            "method": self.method,
            "reference": REFERENCES[self.method],
            "formula": FORMULAS[self.method],
            "score": "cosine similarity of the pair (backbone.similarity)",
            "target": "side a: S(x) = cos(embed(x), embed(b)) at x = a, embed(b) detached; "
                      "side b: the same with a and b swapped",
            "implementation": f"captum {self.captum_version()}",
            "parameters": self.settings(),
            "sides": details,
        }
        if raw:
            metadata["extra_map"] = self.raw_description()
        return Explanation(score=score, maps=maps, extra_maps=extra, explainer=self.name, metadata=metadata)

    def _side(self, forward: SimilarityTo, backbone: Any,
              x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """``(heat (1, 1, h, w), raw map (H, W) or None, details)`` for one face ``x``."""
        if self.method in M.CAM_METHODS:
            layer = backbone.cam_layer
            heat = M.cam(self.method, forward, layer, x)
            return heat, None, {"layer": layer_name(backbone, layer), "layer_size": list(heat.shape[-2:])}
        baseline = self.black(backbone, x)
        with torch.no_grad():
            info: dict[str, Any] = {"baseline_similarity": float(forward(baseline)[0])}
        if self.method == "integrated-gradients":
            attributions, delta = M.integrated_gradients(forward, x, baseline, self.steps, self.batch_size)
            info["attribution_sum"] = float(attributions.sum())
            info["convergence_delta"] = delta
            return attributions.abs().sum(dim=1, keepdim=True), attributions.sum(dim=1)[0], info
        attributions = M.occlusion(forward, x, baseline, self.window, self.stride, self.batch_size)
        h, w = (int(n) for n in x.shape[-2:])  # Captum's count: the last patch may be cut by the border
        info["patches"] = (-(-(h - self.window) // self.stride) + 1) * (-(-(w - self.window) // self.stride) + 1)
        return attributions.sum(dim=1, keepdim=True), attributions.mean(dim=1)[0], info

    def raw_name(self) -> str:
        """The name of the extra map kept in the method's own units."""
        return "signed-attribution" if self.method == "integrated-gradients" else "similarity-drop"

    def raw_description(self) -> str:
        """What the extra map holds, for the metadata."""
        if self.method == "integrated-gradients":
            return ("signed-attribution: sum over channels of the IG attributions, not normalised; "
                    "it sums to about S(face) - S(black baseline)")
        return ("similarity-drop: per pixel, the mean drop of the cosine similarity when a patch covering "
                "it is set to the black baseline, not normalised; positive where occluding lowers the score")

    @staticmethod
    def black(backbone: Any, x: torch.Tensor) -> torch.Tensor:
        """A black face in the backbone's preprocessed space, like ``x`` ``(1, 3, H, W)``."""
        zeros = np.zeros((1, int(x.shape[-2]), int(x.shape[-1]), 3), dtype=np.uint8)
        return backbone.preprocess(zeros).to(device=x.device, dtype=x.dtype)

    @staticmethod
    def captum_version() -> str:
        import captum

        return str(captum.__version__)


class GradCamPlusPlus(GradCam):
    """Grad-CAM++ of the similarity (``-e gradcam++``): the ``gradcam`` explainer with its method
    fixed; it has no ``method`` option.

    Example:
        >>> GradCamPlusPlus().method
        'gradcam++'
    """

    name = "gradcam++"
    Options = BaseOptions
    method = "gradcam++"


class LayerCam(GradCam):
    """LayerCAM of the similarity (``-e layercam``): a gradient weight per position.

    Example:
        >>> LayerCam().method
        'layercam'
    """

    name = "layercam"
    Options = BaseOptions
    method = "layercam"


class IntegratedGradientsExplainer(GradCam):
    """Integrated Gradients of the similarity on the pixels (``-e integrated-gradients``).

    Example:
        >>> IntegratedGradientsExplainer(steps="8", batch_size=4).settings()["steps"]
        8
    """

    name = "integrated-gradients"
    Options = IntegratedGradientsOptions
    method = "integrated-gradients"
    fast_options = {"steps": "8"}  # the conformance tests


class OcclusionExplainer(GradCam):
    """Occlusion of the similarity (``-e occlusion``): how much hiding each patch lowers it.

    Example:
        >>> OcclusionExplainer(window="30", stride="10").settings()["window"]
        30
    """

    name = "occlusion"
    Options = OcclusionOptions
    method = "occlusion"
    fast_options = {"window": "30", "stride": "20"}  # the conformance tests: 49 patches per side
