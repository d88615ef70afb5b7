"""The model-randomisation sanity check of saliency maps, for every kind of backbone.

After Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018, arXiv:1810.03292: the
backbone's weight layers are re-initialised cascading from the output down (:func:`cascade`),
each explainer re-explains the same pair with every randomised copy, and the original and
randomised maps are compared by Spearman rank correlation and SSIM (:func:`map_agreement`).
A method whose maps barely change once every weight is random does not explain the model
(:func:`survives`).

Randomisation is generic, not ``reset_parameters`` (converted ONNX modules have none): a weight
layer is a module that owns float parameters, or, as a converted ONNX node does, receives them
as forward inputs (:func:`weight_layers`); buffers (batch-norm running statistics, the input
mean) and the mean and variance inputs of an ONNX ``BatchNormalization`` are never touched.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.testing import tiny_backbone
    >>> net = tiny_backbone()
    >>> [layer.name for layer in weight_layers(net)]
    ['module.0', 'module.2', 'module.4']
    >>> [level.label for level in cascade(net, levels=2)]
    ['top 2/3 layers', 'top 3/3 layers']
    >>> map_agreement(np.eye(4), np.eye(4)), map_agreement(np.arange(4.0)[None], np.arange(4.0)[None, ::-1])["spearman"]
    ({'spearman': 1.0, 'ssim': 1.0}, -1.0)
    >>> survives([0.9, -0.8]), survives([0.1, -0.2])
    (True, False)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

from ..backbones.base import Backbone
from ..capture import hooked
from ..explainers.explanation import SIDES, Explanation, as_map

#: Mean |Spearman| between original and fully randomised maps above which a method is flagged.
SURVIVAL_SPEARMAN = 0.5
#: Forward inputs of ONNX operators that are statistics, not learned weights (by ``op_type``).
_STATISTICS_INPUTS = {"BatchNormalization": (3, 4)}  # x, scale, bias, mean, var


class WeightLayer(NamedTuple):
    """A module with learned tensors: its name in the backbone, the module, and the names (for
    ``backbone.get_parameter``) of the tensors :func:`randomise` redraws.

    Example:
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> net = tiny_backbone()
        >>> name, module, tensors = weight_layers(net)[0]
        >>> name, type(module).__name__, tensors, tuple(net.get_parameter(tensors[0]).shape)
        ('module.0', 'Conv2d', ('module.0.weight', 'module.0.bias'), (4, 3, 3, 3))
    """

    name: str
    module: nn.Module
    tensors: tuple[str, ...]


@dataclass
class Randomised:
    """One level of a :func:`cascade`: a copy of the backbone whose top ``layers`` of ``total``
    weight layers are random.

    Example:
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> level = cascade(tiny_backbone(), levels=1)[0]
        >>> level.label, level.layers, level.total, type(level.backbone).__name__
        ('top 3/3 layers', 3, 3, 'WrappedBackbone')
    """

    label: str
    layers: int
    total: int
    backbone: Backbone


def _redrawable(tensor: torch.Tensor) -> bool:
    if not tensor.is_floating_point() or tensor.numel() < 2:
        return False
    low, high = torch.aminmax(tensor.detach())
    return bool(low < high)


def _first_tensor(module: nn.Module) -> torch.Tensor | None:
    return next((t for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()), None)


def weight_layers(backbone: Backbone) -> list[WeightLayer]:
    """The modules holding learned weights, in forward execution order (the last is nearest
    the output), found with forward hooks during one no-grad pass of a zero face of
    ``backbone.input_size`` in eval mode (the backbone's modes are restored). A backbone with an
    identification head (``num_classes > 0``) is traced through :meth:`~Backbone.logits`, so
    the head is the top layer.

    A module's tensors are the float parameters it owns or receives as forward inputs (a
    converted ONNX node gets its weights from the graph's ``weights`` dict), except the
    statistics inputs of ONNX ``BatchNormalization`` and any tensor with a single element or
    zero spread (see :func:`randomise`); each tensor belongs to the first module that uses it,
    a module is placed at its first call, and modules left with no tensor, or never run, are
    no layers. Buffers never are tensors here.
    """
    param_names = {id(p): n for n, p in backbone.named_parameters()}
    found: list[WeightLayer] = []
    claimed: set[str] = set()
    seen: set[int] = set()
    module_names = {id(m): n for n, m in backbone.named_modules()}

    def hook(name: str, module: nn.Module, args: tuple, output: Any) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        skip = _STATISTICS_INPUTS.get(getattr(module, "op_type", None), ())
        candidates = [p for p in module.parameters(recurse=False)]
        candidates += [a for i, a in enumerate(args) if isinstance(a, nn.Parameter) and i not in skip]
        names = [param_names[id(p)] for p in candidates if id(p) in param_names and _redrawable(p)]
        names = [n for n in dict.fromkeys(names) if n not in claimed]
        if names:
            claimed.update(names)
            found.append(WeightLayer(module_names[id(module)], module, tuple(names)))

    modes = [(m, m.training) for m in backbone.modules()]
    reference = _first_tensor(backbone)
    x = torch.zeros(1, 3, *backbone.input_size, device=reference.device if reference is not None else None,
                    dtype=reference.dtype if reference is not None else None)
    try:
        backbone.eval()
        with hooked(list(backbone.named_modules()), hook), torch.no_grad():
            if getattr(backbone, "num_classes", 0):
                try:
                    backbone.logits(x)
                except NotImplementedError:
                    backbone(x)
            else:
                backbone(x)
    finally:
        for module, training in modes:
            module.training = training
    return found


def _redrawn(backbone: Backbone, chosen: Sequence[WeightLayer], seed: int) -> Backbone:
    """A deep copy with the tensors of ``chosen`` (bottom first) redrawn, the top layer first."""
    twin = copy.deepcopy(backbone)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in reversed(chosen):
            for name in layer.tensors:
                tensor = twin.get_parameter(name)
                std, mean = torch.std_mean(tensor.detach().float())
                draw = torch.randn(tuple(tensor.shape), generator=generator)
                tensor.copy_(draw.mul_(std.cpu()).add_(mean.cpu()))
    return twin


def randomise(backbone: Backbone, layers: int, seed: int = 0, *,
              found: Sequence[WeightLayer] | None = None) -> Backbone:
    """A deep copy of ``backbone`` with its top ``layers`` weight layers (:func:`weight_layers`,
    from the output down) re-initialised; ``backbone`` itself is untouched.

    Each tensor is redrawn from a normal with that tensor's own mean and standard deviation, so
    that activations keep the scale the model had (a standard init could blow up or vanish
    where batch-norm statistics, kept as they are, expect the trained scale). A tensor with a
    single element (a scalar scale, an ONNX normalisation constant) has no spread to draw from,
    and one with zero spread (a batch-norm scale of ones, a zero bias) would be drawn back as it
    is: both are left alone, and are no layer's tensors. Draws come from one generator seeded by
    ``seed``, top layer first: the same seed gives an identical copy, and the top layers of a
    deeper level are the same as those of a shallower one (a true cascade). ``layers`` 0 is a
    plain copy. ``found``: ``weight_layers(backbone)`` if already at hand (saves a forward pass).
    """
    found = weight_layers(backbone) if found is None else found
    if not 0 <= layers <= len(found):
        raise ValueError(f"layers must be between 0 and {len(found)} (the backbone's weight layers), got {layers}")
    return _redrawn(backbone, found[len(found) - layers:], seed)


def cascade(backbone: Backbone, levels: int = 4, seed: int = 0) -> list[Randomised]:
    """``levels`` randomised copies, from the top ``ceil(total / levels)`` weight layers down to
    all ``total`` of them in equal steps (``ceil(total * i / levels)``, i = 1..levels; fewer
    levels when there are fewer layers). The last level always randomises every weight layer."""
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}")
    found = weight_layers(backbone)
    total = len(found)
    if total == 0:
        raise ValueError("the backbone has no weight layers to randomise")
    counts = sorted({math.ceil(total * i / levels) for i in range(1, levels + 1)})
    return [Randomised(f"top {k}/{total} layers", k, total, _redrawn(backbone, found[total - k:], seed))
            for k in counts]


def _normalised(m: np.ndarray) -> np.ndarray:
    span = float(m.max() - m.min())
    return (m - m.min()) / span if span > 0 else np.zeros_like(m)


def map_agreement(original: Any, randomised: Any) -> dict[str, float]:
    """Spearman rank correlation and SSIM of two 2-D maps (arrays or tensors).

    ``randomised`` is resized bilinearly to ``original``'s shape when they differ. SSIM is
    computed on both maps min-max normalised (a constant map becomes zeros), ``data_range=1``,
    with a 7-pixel window or the largest odd one that fits; a side below 3 pixels is first
    repeated (nearest neighbour) to 3. A constant map has no rank order: two constant maps
    agree fully (Spearman 1, and SSIM 1 of two zero maps), a constant against a varying map
    shares no order (Spearman 0). The values are never NaN; a non-finite map is a
    ``ValueError``.
    """
    a, b = as_map(original).astype(np.float64), as_map(randomised).astype(np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a map has non-finite values")
    if b.shape != a.shape:
        b = F.interpolate(torch.from_numpy(b)[None, None], size=a.shape, mode="bilinear",
                          align_corners=False)[0, 0].numpy()
    flat_a, flat_b = np.ptp(a) == 0, np.ptp(b) == 0
    if flat_a or flat_b:
        spearman = 1.0 if flat_a and flat_b else 0.0
    else:
        spearman = float(spearmanr(a.ravel(), b.ravel()).statistic)
    na, nb = _normalised(a), _normalised(b)
    factor = math.ceil(3 / min(a.shape))
    if factor > 1:
        na, nb = (np.repeat(np.repeat(m, factor, 0), factor, 1) for m in (na, nb))
    window = min(7, *na.shape)
    window -= 1 - window % 2
    ssim = float(structural_similarity(na, nb, data_range=1.0, win_size=window))
    return {"spearman": spearman, "ssim": ssim}


def survives(spearmans: Iterable[float]) -> bool:
    """Whether a method fails the check: the mean |Spearman| between its original and fully
    randomised maps (over pairs and sides) exceeds :data:`SURVIVAL_SPEARMAN`.

    The absolute value because a signed map may just flip sign. 0.5: a map that keeps more than
    half its rank order after every weight is random owes it to the input (edges, contrast) or
    to a fixed prior (a centre blob), not to the model.

    Example:
        >>> values = {"levels": [{"a": {"spearman": 0.93}, "b": {"spearman": -0.81}}]}
        >>> survives(values["levels"][-1][side]["spearman"] for side in ("a", "b"))
        True
    """
    values = np.abs(np.asarray(list(spearmans), dtype=np.float64))
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("survives needs one or more finite Spearman values")
    return bool(values.mean() > SURVIVAL_SPEARMAN)


def sanity_values(explain: Callable[[Backbone], Explanation], explanation: Explanation,
                  copies: Sequence[Randomised]) -> dict[str, list[dict[str, Any]]]:
    """Re-explain one pair with each randomised copy (``explain(copy.backbone)``) and compare
    the maps with ``explanation``'s, the original one, per side: plain data for a results row,
    ``{"levels": [{"label", "layers", "total", "a": {"spearman", "ssim"}, "b": {...}}, ...]}``.

    Example:
        >>> import numpy as np
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> fixed = Explanation(score=0.5, maps={"a": np.eye(4), "b": np.eye(4)})
        >>> out = sanity_values(lambda backbone: fixed, fixed, cascade(tiny_backbone(), levels=1))
        >>> out["levels"][0]["label"], out["levels"][0]["a"]
        ('top 3/3 layers', {'spearman': 1.0, 'ssim': 1.0})
    """
    levels = []
    for level in copies:
        again = explain(level.backbone)
        levels.append({"label": level.label, "layers": level.layers, "total": level.total,
                       **{side: map_agreement(explanation.maps[side], again.maps[side]) for side in SIDES}})
    return {"levels": levels}


def summarise_sanity(values: Sequence[dict], seed: int = 0) -> dict[str, Any] | None:
    """Per level, the bootstrap mean (:func:`~s2w_toolkit.bench.stats.mean_ci`, resampling pairs)
    of |Spearman| and of SSIM, each pair's value the mean of its two sides, and ``flagged``:
    :func:`survives` on every side's Spearman at the last (full) level. None for no values.

    Example:
        >>> row = {"levels": [{"label": "top 3/3 layers", "a": {"spearman": -0.9, "ssim": 0.8},
        ...                    "b": {"spearman": 0.7, "ssim": 0.6}}]}
        >>> out = summarise_sanity([row, row])
        >>> out["levels"][0]["label"], round(out["levels"][0]["spearman"]["mean"], 6), out["flagged"]
        ('top 3/3 layers', 0.8, True)
    """
    from .stats import mean_ci

    if not values:
        return None
    levels = []
    for i, first in enumerate(values[0]["levels"]):
        pairs = [v["levels"][i] for v in values]
        spearman = [np.mean([abs(level[side]["spearman"]) for side in SIDES]) for level in pairs]
        ssim = [np.mean([level[side]["ssim"] for side in SIDES]) for level in pairs]
        levels.append({"label": first["label"], "spearman": mean_ci(spearman, seed), "ssim": mean_ci(ssim, seed)})
    full = [v["levels"][-1][side]["spearman"] for v in values for side in SIDES]
    return {"levels": levels, "flagged": survives(full)}
