"""Which feature maps of a backbone are its "levels", found from one traced forward pass.

:func:`trace_spatial_outputs` hooks every submodule (``backbone.named_modules()`` except the
backbone itself) and records each call whose output is a 4-D tensor ``(N, C, h, w)``, in the
order the calls finish. :func:`auto_levels` then picks, generically:

1. the *high* level: from the last call of the CAM layer, the last output of the run of
   consecutive spatial outputs that keep its resolution (the deepest map at the CAM layer's
   resolution). The CAM layer is ``backbone.cam_layer``, or, for a backbone without a usable
   one, the core's one rule (:func:`s2w_toolkit.cam.find_cam_layer`), see :func:`cam_layer_name`;
   when the named layer gives no spatial map in the pass, the last spatial output is used;
2. among the outputs before it, the last output at each distinct resolution; walking back from
   the high level, each one whose area ``h * w`` is larger than that of the level kept before it
   is kept, until ``count`` levels are found (low, middle, high for ``count=3``).

Maps of one cell (``h * w == 1``, e.g. a global pool) are never picked automatically.
:func:`named_levels` picks modules by dotted name instead; :func:`capture_levels` runs a second
pass that keeps only the chosen outputs.

Example:
    >>> import torch
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> x = torch.rand(2, 3, 150, 150)
    >>> picked = auto_levels(trace_spatial_outputs(net, x), cam_layer_name(net))
    >>> [(o.name, o.size) for o in picked]
    [('units.2', (35, 35)), ('units.6', (17, 17)), ('units.9', (8, 8))]
    >>> [tuple(f.shape) for f in capture_levels(net, x, picked)]
    [(2, 32, 35, 35), (2, 64, 17, 17), (2, 128, 8, 8)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from s2w_toolkit.cam import find_cam_layer
from s2w_toolkit.capture import hooked


@dataclass(frozen=True)
class SpatialOutput:
    """One module call with a 4-D output: the module's dotted ``name``, which ``call`` of that
    module it was (0-based), its ``order`` among all module calls of the pass, ``channels`` and
    spatial ``size`` ``(h, w)``.

    Example:
        >>> SpatialOutput("layer3", 0, 41, 256, (14, 14)).area
        196
    """

    name: str
    call: int
    order: int
    channels: int
    size: tuple[int, int]

    @property
    def area(self) -> int:
        return self.size[0] * self.size[1]


def _run_hooked(backbone: Any, x: torch.Tensor, names: set[str] | None, on_output) -> None:
    """``backbone(x)`` without gradients, calling ``on_output(name, output)`` for every named
    submodule (or only those in ``names``) as it runs."""
    chosen = [(name, module) for name, module in backbone.named_modules() if name and (names is None or name in names)]
    with hooked(chosen, lambda name, module, inputs, output: on_output(name, output)), torch.no_grad():
        backbone(x)


def trace_spatial_outputs(backbone: Any, x: torch.Tensor) -> list[SpatialOutput]:
    """Run ``backbone(x)`` once, without gradients, and list every 4-D module output in order."""
    calls: dict[str, int] = {}
    order = [0]
    found: list[SpatialOutput] = []

    def record(name: str, output: Any) -> None:
        call = calls.get(name, 0)
        calls[name] = call + 1
        if isinstance(output, torch.Tensor) and output.ndim == 4:
            found.append(SpatialOutput(name, call, order[0], int(output.shape[1]),
                                       (int(output.shape[2]), int(output.shape[3]))))
        order[0] += 1

    _run_hooked(backbone, x, None, record)
    return found


def cam_layer_name(backbone: Any) -> str | None:
    """The dotted name of ``backbone.cam_layer``; for a backbone that has none (or whose CAM
    layer is not a submodule) the layer :func:`~s2w_toolkit.cam.find_cam_layer` finds, or None
    when no layer gives a spatial map."""
    try:
        cam = backbone.cam_layer
    except Exception:
        cam = None
    for name, module in backbone.named_modules():
        if name and module is cam:
            return name
    return find_cam_layer(backbone, tuple(backbone.input_size))


def auto_levels(outputs: list[SpatialOutput], cam_name: str | None, count: int = 3) -> list[SpatialOutput]:
    """Up to ``count`` levels, shallow to deep, by the rule in the module docstring."""
    spatial = [o for o in outputs if o.area > 1]
    if not spatial:
        raise ValueError("the backbone has no spatial feature map (no module returns (N, C, h, w) with h*w > 1)")
    at_cam = [i for i, o in enumerate(spatial) if o.name == cam_name]
    i = at_cam[-1] if at_cam else len(spatial) - 1  # no usable CAM layer: the last spatial map
    while i + 1 < len(spatial) and spatial[i + 1].size == spatial[i].size:
        i += 1
    last_at: dict[tuple[int, int], SpatialOutput] = {}
    for o in spatial[:i]:
        last_at[o.size] = o
    chosen = [spatial[i]]
    for o in sorted(last_at.values(), key=lambda o: o.order, reverse=True):
        if len(chosen) >= count:
            break
        if o.area > chosen[-1].area:
            chosen.append(o)
    return chosen[::-1]


def named_levels(outputs: list[SpatialOutput], names: list[str], modules: list[str]) -> list[SpatialOutput]:
    """The last call of each named module (``modules``: all dotted names of the backbone), in
    execution order; a name that is no submodule, or whose output is not 4-D, is a ValueError."""
    chosen = []
    for name in dict.fromkeys(names):
        calls = [o for o in outputs if o.name == name]
        if not calls:
            if name not in modules:
                listed = ", ".join(modules[:12]) + (f", ... ({len(modules)} in all)" if len(modules) > 12 else "")
                raise ValueError(f"level {name!r} is not a submodule of the backbone (its submodules: {listed})")
            raise ValueError(f"level {name!r} does not return a feature map (N, C, h, w)")
        chosen.append(calls[-1])
    return sorted(chosen, key=lambda o: o.order)


def capture_levels(backbone: Any, x: torch.Tensor, levels: list[SpatialOutput]) -> list[torch.Tensor]:
    """The outputs ``(N, C, h, w)`` of ``levels`` for ``backbone(x)``, in one pass without gradients."""
    wanted = {(o.name, o.call): i for i, o in enumerate(levels)}
    calls: dict[str, int] = {}
    found: list[torch.Tensor | None] = [None] * len(levels)

    def keep(name: str, output: Any) -> None:
        call = calls.get(name, 0)
        calls[name] = call + 1
        if (name, call) in wanted:
            found[wanted[(name, call)]] = output.detach()

    _run_hooked(backbone, x, {o.name for o in levels}, keep)
    missing = [levels[i].name for i, f in enumerate(found) if f is None]
    if missing:
        raise ValueError(f"levels {missing} did not run in the second pass (a data-dependent backbone?)")
    return found
