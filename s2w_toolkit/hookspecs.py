"""The hooks a plugin may implement. These specs are the plugin contract.

A plugin is a module (or object) with functions decorated by ``@hookimpl``, registered through
the ``s2w`` entry-point group. Built-ins are registered through the same manager.

Example:
    >>> from s2w_toolkit import hookimpl
    >>> @hookimpl
    ... def s2w_register_explainers():
    ...     return []
"""

from __future__ import annotations

import pluggy

PROJECT = "s2w"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def s2w_register_backbones():
    """Return a list of ``Backbone`` subclasses (or ``ClassRef``), each with a unique ``name``."""


@hookspec
def s2w_register_attribute_models():
    """Return a list of ``AttributeModel`` subclasses (or ``ClassRef``), each with a unique ``name``."""


@hookspec
def s2w_register_explainers():
    """Return a list of ``Explainer`` subclasses (or ``ClassRef``), each with a unique ``name``."""


@hookspec
def s2w_register_metrics():
    """Return a list of benchmark ``Metric`` subclasses (or ``ClassRef``), each with a unique
    ``name`` (see :mod:`s2w_toolkit.bench.metric`); ``s2w benchmark`` runs every default one."""


@hookspec
def s2w_register_commands(cli):
    """Add click sub-commands to the ``s2w`` group ``cli`` (e.g. ``cli.add_command(cmd)``)."""
