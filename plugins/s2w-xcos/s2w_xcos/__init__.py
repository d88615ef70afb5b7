"""s2w-xcos: the xCos explainer (explainable cosine, Lin et al., ACM TOMM 2021) for s2w.

The explainer compares the two faces cell by cell on the backbone's last spatial feature map
(``backbone.cam_layer``): a patch-wise cosine map, an attention map over the same grid, and
their weighted sum, the xCos score. The attention is training-free by default (feature norms)
and can be learned with ``s2w xcos train``.

Importing this package is light (no torch): the hooks register the explainer by reference and
add the ``xcos`` command group, whose modules import torch only when a command runs.

Example:
    >>> [ref.name for ref in s2w_register_explainers()]
    ['xcos']
    >>> import click
    >>> group = click.Group("s2w")
    >>> s2w_register_commands(group)
    >>> sorted(group.commands["xcos"].commands)
    ['train']
"""

from __future__ import annotations

from s2w_toolkit import ClassRef, hookimpl

__version__ = "0.1.0"
__all__ = ["s2w_register_commands", "s2w_register_explainers"]


@hookimpl
def s2w_register_explainers() -> list:
    """The ``xcos`` explainer, imported only when it is used."""
    return [ClassRef("s2w_xcos.explainer:XCosExplainer", name="xcos")]


@hookimpl
def s2w_register_commands(cli) -> None:
    """Add ``s2w xcos train``."""
    from .cli import xcos

    cli.add_command(xcos)
