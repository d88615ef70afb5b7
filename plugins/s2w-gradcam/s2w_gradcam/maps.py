"""The attribution maps, computed with Captum for one face against a fixed target embedding.

Every function takes ``forward``, a :class:`SimilarityTo` (preprocessed faces ``(N, 3, H, W)``
to their cosine similarity ``(N,)`` with the other face's embedding), and returns maps
``(N, 1, h, w)`` before upsampling and normalisation
(:func:`s2w_toolkit.explainers.families.to_face`).

* :func:`cam` - Grad-CAM, Grad-CAM++ and LayerCAM at a layer, from its activations ``A`` and
  the gradients ``g = dS/dA`` of the similarity ``S``.
* :func:`integrated_gradients` and :func:`occlusion` - per pixel, on the input.

Example:
    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0) and None
    >>> conv = nn.Conv2d(3, 4, 3)
    >>> model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    >>> x = torch.randn(1, 3, 10, 10)
    >>> embed = lambda x: torch.nn.functional.normalize(model(x), dim=1)
    >>> forward = SimilarityTo(embed, embed(torch.randn(1, 3, 10, 10)))
    >>> cam("gradcam", forward, conv, x).shape
    torch.Size([1, 1, 8, 8])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import (
    IntegratedGradients,
    LayerActivation,
    LayerGradCam,
    LayerGradientXActivation,
    Occlusion,
)
from torch import nn

from s2w_toolkit.targets import SimilarityTo

CAM_METHODS = ("gradcam", "gradcam++", "layercam")


def gradients_and_activations(forward: SimilarityTo, layer: nn.Module,
                              x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dS/dA, A)`` at the output of ``layer``, each ``(N, C, h, w)``, through Captum's
    ``LayerGradientXActivation`` (without the multiplication) and ``LayerActivation``."""
    with torch.enable_grad():
        grads = LayerGradientXActivation(forward, layer, multiply_by_inputs=False).attribute(x)
    with torch.no_grad():
        acts = LayerActivation(forward, layer).attribute(x)
    return grads.detach(), acts.detach()


def gradcam_plus_plus_weights(grads: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights ``(N, C, 1, 1)`` (Chattopadhyay et al. 2018, eq. 19-20).

    With the score ``Y = exp(S)`` the higher derivatives are powers of ``g = dS/dA``, and
    ``exp(S)`` cancels in ``alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)`` (0/0 taken as 0).
    ``w_k = sum_ij alpha_ij relu(g_ij)``; the remaining positive factor ``exp(S)`` of the
    paper's weights is dropped, as the map is min-max normalised anyway.
    """
    g2, g3 = grads.pow(2), grads.pow(3)
    denom = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
    alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
    return (alpha * F.relu(grads)).sum(dim=(2, 3), keepdim=True)


def cam(method: str, forward: SimilarityTo, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The class-activation map ``(N, 1, h, w)`` of ``method`` (one of :data:`CAM_METHODS`),
    ReLU applied, at the resolution of ``layer``'s output.

    * ``gradcam``: ``relu(sum_k mean_ij(g_k) A_k)`` - Captum's ``LayerGradCam``.
    * ``gradcam++``: ``relu(sum_k w_k A_k)`` with :func:`gradcam_plus_plus_weights`.
    * ``layercam``: ``relu(sum_k relu(g_k) * A_k)``, a weight per position.
    """
    if method == "gradcam":
        with torch.enable_grad():
            heat = LayerGradCam(forward, layer).attribute(x, relu_attributions=True)
        return heat.detach()
    grads, acts = gradients_and_activations(forward, layer, x)
    if method == "gradcam++":
        return F.relu((gradcam_plus_plus_weights(grads, acts) * acts).sum(dim=1, keepdim=True))
    if method == "layercam":
        return F.relu((F.relu(grads) * acts).sum(dim=1, keepdim=True))
    raise ValueError(f"unknown CAM method {method!r}; expected one of {', '.join(CAM_METHODS)}")


def integrated_gradients(forward: SimilarityTo, x: torch.Tensor, baseline: torch.Tensor, steps: int,
                         batch_size: int) -> tuple[torch.Tensor, float]:
    """Integrated Gradients ``(N, 3, H, W)`` of ``x`` from ``baseline`` with ``steps`` points of
    Captum's default Gauss-Legendre rule, ``batch_size`` points per pass; and the completeness
    error ``sum(attributions) - (S(x) - S(baseline))`` of the first face."""
    with torch.enable_grad():
        attributions, delta = IntegratedGradients(forward).attribute(
            x, baselines=baseline, n_steps=steps, internal_batch_size=batch_size, return_convergence_delta=True)
    return attributions.detach(), float(delta.flatten()[0])


def occlusion(forward: SimilarityTo, x: torch.Tensor, baseline: torch.Tensor, window: int, stride: int,
              batch_size: int) -> torch.Tensor:
    """Captum's ``Occlusion`` ``(N, C, H, W)``: each pixel gets the mean, over the ``window`` x
    ``window`` patches (all channels, slid by ``stride``) that cover it, of ``S(x) - S(x with
    the patch set to baseline)``; ``batch_size`` occluded faces per forward pass."""
    channels = x.shape[1]
    with torch.no_grad():
        attributions = Occlusion(forward).attribute(
            x, sliding_window_shapes=(channels, window, window), strides=(channels, stride, stride),
            baselines=baseline, perturbations_per_eval=batch_size)
    return attributions.detach()
