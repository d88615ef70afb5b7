"""Seeing inside a network: the one place where the toolkit hooks modules.

* :func:`hooked`: call a function after each given module's forward (its return value, when not
  None, replaces the output); the hooks are removed on leaving the ``with`` block.
* :func:`recording`: keep every output of the given modules, per name, in call order.
* :func:`output_of`: run a model only as far as one module and return that module's output.
* :func:`output_as_leaf`: run a model with one module's output made a leaf that requires grad
  (so autograd records only what comes after it), returning the leaf and the model's output.
* :func:`counting_images`: the batch size of every forward pass of a module.

Explainers, attribute models, metrics and plugins use these rather than registering hooks of
their own (a test checks that no other module does).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten())
    >>> with recording({"conv": net[0]}) as seen, counting_images(net) as count:
    ...     _ = net(torch.zeros(2, 3, 8, 8))
    >>> tuple(seen["conv"][0].shape), count.sizes
    ((2, 4, 6, 6), [2])
    >>> tuple(output_of(net, net[1], torch.zeros(1, 3, 8, 8)).shape)
    (1, 4, 6, 6)
    >>> leaf, out = output_as_leaf(net, net[0], torch.zeros(1, 3, 8, 8))
    >>> leaf.requires_grad, leaf.is_leaf, out.requires_grad
    (True, True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

Modules = Mapping[str, nn.Module] | Iterable[tuple[str, nn.Module]]


def _items(modules: Modules) -> list[tuple[str, nn.Module]]:
    """(name, module) pairs from a mapping (an ``nn.ModuleDict`` too) or from pairs."""
    return list(modules.items() if hasattr(modules, "items") else modules)


@contextmanager
def hooked(modules: Modules, on_output: Callable[[str, nn.Module, tuple, Any], Any]) -> Iterator[None]:
    """``on_output(name, module, inputs, output)`` after each forward of each named module, for
    the ``with`` block; a value it returns (not None) replaces the module's output."""
    handles = []
    try:  # registered inside: a registration that fails still removes the hooks before it
        for name, module in _items(modules):
            handles.append(module.register_forward_hook(
                lambda mod, args, out, name=name: on_output(name, mod, args, out)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def recording(modules: Modules, detach: bool = False) -> Iterator[dict[str, list[Any]]]:
    """A dict filled, during the ``with`` block, with each named module's outputs in call
    order (``detach``: tensors detached)."""
    seen: dict[str, list[Any]] = {name: [] for name, _ in _items(modules)}

    def keep(name: str, module: nn.Module, args: tuple, out: Any) -> None:
        seen[name].append(out.detach() if detach and isinstance(out, torch.Tensor) else out)

    with hooked(modules, keep):
        yield seen


class _Stop(Exception):
    """Raised by a hook to skip the rest of a forward pass."""


def output_of(model: nn.Module, layer: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """``layer``'s first output when ``model(*args, **kwargs)`` runs; the layers after it are
    skipped. Raises RuntimeError when ``layer`` does not run."""
    seen: list[Any] = []

    def stop(name: str, module: nn.Module, inputs: tuple, out: Any) -> None:
        seen.append(out)
        raise _Stop

    with hooked({"layer": layer}, stop):
        try:
            model(*args, **kwargs)
        except _Stop:
            pass
    if not seen:
        raise RuntimeError(f"{type(layer).__name__} did not run in the forward pass of {type(model).__name__}")
    return seen[0]


def output_as_leaf(model: nn.Module, layer: nn.Module, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """Run ``model`` with ``layer``'s output swapped for a detached leaf that requires grad;
    return (the leaf, the model's output). Gradients of the output reach the leaf, and the
    layers before ``layer`` are not recorded."""
    seen: dict[str, torch.Tensor] = {}

    def swap(name: str, module: nn.Module, inputs: tuple, out: torch.Tensor) -> torch.Tensor:
        seen["leaf"] = out.detach().requires_grad_(True)
        return seen["leaf"] * 1.0  # not the leaf itself, so a later in-place op cannot touch it

    with hooked({"layer": layer}, swap):
        result = model(*args, **kwargs)
    if "leaf" not in seen:
        raise RuntimeError(f"{type(layer).__name__} did not run in the forward pass of {type(model).__name__}")
    return seen["leaf"], result


@dataclass
class ImageCount:
    """The batch size of each forward pass seen; ``images`` their sum.

    Example:
        >>> ImageCount([2, 3]).images
        5
    """

    sizes: list[int] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(self.sizes)


@contextmanager
def counting_images(module: nn.Module) -> Iterator[ImageCount]:
    """Count the images (first dimension of the first input) of every forward pass of
    ``module`` during the ``with`` block."""
    count = ImageCount()

    def add(name: str, mod: nn.Module, args: tuple, out: Any) -> None:
        if args and isinstance(args[0], torch.Tensor):
            count.sizes.append(int(args[0].shape[0]))

    with hooked({"module": module}, add):
        yield count
