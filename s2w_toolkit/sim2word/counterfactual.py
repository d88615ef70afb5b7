"""Counterfactual maps H_d for Sim2Word: where the target T looks like itself and not like the
counter face F, by one of several estimates of the same quantity.

Every estimate but ``official`` explains one *contrast target* per direction (T, F): without an
identification head ``c(T) = <f(T), e_T - e_F>`` (the raw embedding on the difference of the two
faces' unit embeddings, both fixed), with one the mean logit of T's classes minus F's. A high
H_d marks pixels whose removal lowers c(T), i.e. makes T less itself and more like F.

* ``contrastive``: the Grad-CAM of c at the backbone's CAM layer (for ``dlib-resnet`` 8x8 cells
  of 19 px on a 150 px face: coarser than an eye);
* ``fine``: the Grad-CAM of c at the finer layer (:func:`finer_layer`: the last layer before
  the CAM layer whose map is at least twice as wide; 17x17 for ``dlib-resnet``, 14x14 for
  ``faceres``);
* ``layers``: the mean of the two, each min-max normalised;
* ``gradient``: ``(x - fill) . grad c(x)``, the first-order estimate of how much erasing each
  pixel with the erasing fill lowers c, summed over channels and smoothed;
* ``integrated``: the same with the gradient averaged along the straight path from the fill to
  the face (integrated gradients, Sundararajan et al., ICML 2017, with the fill as the
  baseline): the pixel terms then sum to ``c(x) - c(fill)``, the whole erasure's effect;
* ``occlusion``: the drop of c when a square of an eighth of the face's width is erased with the
  fill, at a stride of half a square, averaged over the squares covering each pixel (the
  direct perturbation estimate, one image per square);
* ``official``: minmax(H_t (max H_f - H_f)) of the two identity Grad-CAMs
  (:func:`~s2w_toolkit.sim2word.identity.counterfactual_map`).

The pixel estimates are smoothed with a Gaussian of ``width / 40`` px (an eye is about 20 px
wide on a 150 px chip) before the positive part is kept; every map is min-max normalised.
``benchmarks/counterfactual_maps_sim2word.py`` measures them on the swap game and by deletion.

Example:
    >>> import torch
    >>> from s2w_toolkit.testing import tiny_backbone
    >>> net = tiny_backbone()
    >>> x = torch.rand(2, 3, 16, 16)
    >>> with torch.no_grad():
    ...     every = net(x)
    >>> maps = contrast_maps(net, "integrated", x, torch.zeros_like(x), [(0, 1), (1, 0)], every)
    >>> tuple(maps.shape), bool(maps.min() >= 0), bool(maps.max() <= 1)
    ((2, 16, 16), True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..cam import gradcam, normalise_maps, REARRANGING
from ..capture import hooked, output_as_leaf

#: The estimates of H_d, and what each is.
COUNTERFACTUALS = {
    "contrastive": "Grad-CAM of the contrast <f(T), e_T - e_F> at the CAM layer",
    "fine": "Grad-CAM of the contrast at the finer layer (at least twice the CAM layer's width)",
    "layers": "mean of the contrast's Grad-CAMs at the CAM layer and the finer layer",
    "gradient": "(x - fill) . gradient of the contrast, smoothed: first-order effect of erasing each pixel",
    "integrated": "integrated gradients of the contrast from the fill to the face, smoothed",
    "occlusion": "drop of the contrast when squares of 1/8 of the face are erased with the fill",
    "official": "minmax(H_t (max H_f - H_f)), the paper's map",
}
#: Points on the path from the fill to the face for ``integrated`` (midpoint rule).
STEPS = 8
#: The smoothing of pixel estimates, as a fraction of the face's width (its standard deviation).
SMOOTH = 1 / 40
#: The occlusion square, as a fraction of the face's width (stride: half of it).
SQUARE = 1 / 8


def finer_layer(backbone: torch.nn.Module, input_size: Sequence[int]) -> str | None:
    """The dotted name of the last module that finishes before the CAM layer's last call and
    gives a map at least twice as wide as the CAM layer's (modules that only rearrange axes
    skipped); None when there is none. One forward pass of a zero face, kept on the backbone."""
    cached = getattr(backbone, "_s2w_finer_layer", None)
    if cached is not None:
        return cached or None
    cam = backbone.cam_layer
    order: list[tuple[str, tuple[int, int]]] = []

    def note(name: str, module: torch.nn.Module, inputs: tuple, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.ndim == 4 and not isinstance(module, REARRANGING):
            order.append((name, (int(out.shape[2]), int(out.shape[3]))))

    named = [(name, m) for name, m in backbone.named_modules() if name]
    cam_name = next((name for name, m in named if m is cam), None)
    reference = next(iter(backbone.parameters()), None)
    with hooked(named, note), torch.no_grad():
        backbone(torch.zeros(1, 3, *input_size, device=None if reference is None else reference.device))
    found = ""
    ends = [k for k, (name, _) in enumerate(order) if name == cam_name]
    if ends:
        width = order[ends[-1]][1][1]
        wider = [name for name, (_, w) in order[:ends[-1]] if w >= 2 * width]
        found = wider[-1] if wider else ""
    object.__setattr__(backbone, "_s2w_finer_layer", found)  # a string: not registered as a module
    return found or None


def contrast_scores(backbone: torch.nn.Module, embedded: torch.Tensor, every: torch.Tensor,
                    pairs: Sequence[tuple[int, int]], classes: Sequence[Sequence[int]] = ()) -> torch.Tensor:
    """The contrast target ``(D,)`` of each direction ``(i, k)`` on ``embedded`` ``(D, dim)``
    (the raw embeddings of the images explained for it); ``every`` holds the identities'
    raw embeddings, ``classes`` their classes where the backbone has a head."""
    own = torch.tensor([i for i, _ in pairs], device=embedded.device)
    other = torch.tensor([k for _, k in pairs], device=embedded.device)
    if classes and getattr(backbone, "num_classes", 0) > 0:
        logits = backbone.classify(embedded)
        mean = torch.stack([logits[:, list(group)].mean(dim=1) for group in classes], dim=1)  # (D, identities)
        rows = torch.arange(len(pairs), device=embedded.device)
        return mean[rows, own] - mean[rows, other]
    units = F.normalize(every.detach(), dim=1)
    return (embedded * (units[own] - units[other])).sum(dim=1)


def _smooth(maps: torch.Tensor) -> torch.Tensor:
    """``(D, H, W)`` maps convolved with a Gaussian of ``SMOOTH x W`` px (reflect padding)."""
    sigma = max(0.5, SMOOTH * maps.shape[-1])
    radius = int(math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    out = F.pad(maps[:, None], (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1))[:, 0]


def _finish(maps: torch.Tensor) -> torch.Tensor:
    return normalise_maps(maps.clamp_min(0)[:, None])[:, 0]


def pixel_map(attributions: torch.Tensor) -> torch.Tensor:
    """H_d ``(D, H, W)`` in [0, 1] from signed pixel terms ``(D, H, W)`` (of
    :func:`pixel_attributions`): smoothed, positive part, min-max normalised."""
    return _finish(_smooth(attributions))


def _layer_cam(backbone, layer: torch.nn.Module, x: torch.Tensor, score) -> torch.Tensor:
    with torch.enable_grad():
        features, embedded = output_as_leaf(backbone, layer, x.detach())
        cams = gradcam(features, score(embedded)[:, None])
    up = F.interpolate(cams, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)[:, 0]
    return _finish(up)


def _path_gradients(backbone, x: torch.Tensor, baseline: torch.Tensor, score, steps: int) -> torch.Tensor:
    """The gradient of ``score`` averaged over ``steps`` midpoints of the path from ``baseline``
    to ``x`` (``steps=1`` with the point at ``x`` itself: the plain gradient), ``(D, 3, H, W)``.
    One point per pass: a convolution's float rounding depends on the batch it runs in (oneDNN
    picks its algorithm by batch size), and a map that moved with the batch size would move the
    edges of the masks cut from it."""
    alphas = [1.0] if steps == 1 else [(s + 0.5) / steps for s in range(steps)]
    total = torch.zeros_like(x)
    for d in range(len(x)):
        row = torch.tensor([d], device=x.device)
        for alpha in alphas:
            point = (baseline[d:d + 1] + alpha * (x[d:d + 1] - baseline[d:d + 1])).detach().requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(score(backbone(point), row).sum(), point)
            total[d] += grad[0].detach()
    return total / len(alphas)


def _occlusion(backbone, x: torch.Tensor, baseline: torch.Tensor, score, batch_size: int) -> torch.Tensor:
    h, w = x.shape[2:]
    side = max(2, round(SQUARE * w))
    stride = max(1, side // 2)
    corners = [(top, left) for top in range(0, max(1, h - side) + 1, stride)
               for left in range(0, max(1, w - side) + 1, stride)]
    with torch.no_grad():
        base = score(backbone(x), torch.arange(len(x), device=x.device))
    drop = torch.zeros((len(x), h, w), dtype=x.dtype, device=x.device)
    cover = torch.zeros((h, w), dtype=x.dtype, device=x.device)
    for top, left in corners:
        cover[top:top + side, left:left + side] += 1
    jobs = [(d, c) for d in range(len(x)) for c in range(len(corners))]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start:start + batch_size]
        rows = torch.tensor([d for d, _ in chunk], device=x.device)
        erased = x[rows].clone()
        for j, (d, c) in enumerate(chunk):
            top, left = corners[c]
            erased[j, :, top:top + side, left:left + side] = baseline[d, :, top:top + side, left:left + side]
        with torch.no_grad():
            change = base[rows] - score(backbone(erased), rows)
        for j, (d, c) in enumerate(chunk):
            top, left = corners[c]
            drop[d, top:top + side, left:left + side] += change[j]
    return _finish(drop / cover.clamp_min(1))


def contrast_maps(backbone, method: str, x: torch.Tensor, baseline: torch.Tensor, pairs: Sequence[tuple[int, int]],
                  every: torch.Tensor, classes: Sequence[Sequence[int]] = (), batch_size: int = 64) -> torch.Tensor:
    """H_d ``(D, H, W)`` in [0, 1] of each direction ``(i, k)`` of ``pairs`` by ``method`` (a key
    of :data:`COUNTERFACTUALS` other than ``official``): ``x`` ``(n, 3, H, W)`` the preprocessed
    targets, ``baseline`` their preprocessed fills (what erasing puts there), ``every`` the raw
    embeddings of the identities (x's faces, then any further ones), ``classes`` their classes
    with a head. ``occlusion`` scores ``batch_size`` occluded images per pass; the gradient
    estimates take one point of a path per pass, so that their maps do not depend on it."""
    if method not in COUNTERFACTUALS or method == "official":
        choices = [m for m in COUNTERFACTUALS if m != "official"]
        raise ValueError(f"unknown contrast map {method!r}; use one of {choices}")
    xd, bd, score = _directions(backbone, x, baseline, pairs, every, classes)
    if method in ("contrastive", "fine", "layers"):
        maps = []
        if method != "fine":
            maps.append(_layer_cam(backbone, backbone.cam_layer, xd, score))
        if method != "contrastive":
            name = finer_layer(backbone, tuple(x.shape[2:]))
            layer = backbone.get_submodule(name) if name else backbone.cam_layer
            maps.append(_layer_cam(backbone, layer, xd, score))
        return normalise_maps(torch.stack(maps).mean(dim=0)[:, None])[:, 0]
    if method == "occlusion":
        return _occlusion(backbone, xd, bd, score, batch_size)
    return pixel_map(pixel_attributions(backbone, x, baseline, pairs, every, classes,
                                        STEPS if method == "integrated" else 1))


def pixel_attributions(backbone, x: torch.Tensor, baseline: torch.Tensor, pairs: Sequence[tuple[int, int]],
                       every: torch.Tensor, classes: Sequence[Sequence[int]] = (), steps: int = STEPS) -> torch.Tensor:
    """``(x - baseline) . grad c`` per pixel, summed over channels, of each direction ``(i, k)``:
    ``(D, H, W)``, signed and unsmoothed; the gradient averaged over ``steps`` midpoints of the
    path from the baseline (integrated gradients), or taken at ``x`` with ``steps=1``."""
    xd, bd, score = _directions(backbone, x, baseline, pairs, every, classes)
    return ((xd - bd) * _path_gradients(backbone, xd, bd, score, steps)).sum(dim=1)


def _directions(backbone, x: torch.Tensor, baseline: torch.Tensor, pairs: Sequence[tuple[int, int]],
                every: torch.Tensor, classes: Sequence[Sequence[int]]):
    """Each direction's target image and baseline, ``(D, 3, H, W)`` each, and its contrast
    target ``score(embedded, which=None)`` of the directions ``which`` (default: all)."""
    rows = torch.tensor([i for i, _ in pairs], device=x.device)

    def score(embedded: torch.Tensor, which: torch.Tensor | None = None) -> torch.Tensor:
        chosen = pairs if which is None else [pairs[int(d)] for d in which]
        return contrast_scores(backbone, embedded, every, chosen, classes)

    return x[rows].detach(), baseline[rows].detach(), score
