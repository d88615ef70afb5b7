"""s2w-toolkit: explain why a face-verification model finds two faces similar or not.

In a notebook, three lines: ``import s2w_toolkit as s2w``, ``e = s2w.explain("a.jpg", "b.jpg")``,
then ``e`` (shown inline) or ``e.save("out.json")``; see :func:`s2w_toolkit.api.explain`.

Only the ``hookimpl`` marker (pluggy alone) and ``ClassRef`` import eagerly; everything else
(the interfaces and ``Explanation``, which need numpy; ``Backbone``, ``load_backbone`` and
``load_pair``, which need torch) on first access, so that ``s2w --help`` imports neither.

Example:
    >>> from s2w_toolkit import Explanation, Explainer, hookimpl
    >>> Explainer.__name__
    'Explainer'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .hookspecs import hookimpl
from .lazy import ClassRef

_LAZY = {
    "Explanation": "s2w_toolkit.explainers.explanation",
    "Word": "s2w_toolkit.explainers.explanation",
    "AttributeModel": "s2w_toolkit.interfaces",
    "Explainer": "s2w_toolkit.interfaces",
    "Pair": "s2w_toolkit.interfaces",
    "Backbone": "s2w_toolkit.backbones.base",
    "load_backbone": "s2w_toolkit.pipeline",
    "load_pair": "s2w_toolkit.pipeline",
    "load_face": "s2w_toolkit.pipeline",
    "verify": "s2w_toolkit.pipeline",
    "get_registry": "s2w_toolkit.registry",
    "render_explanation": "s2w_toolkit.render",
    "explain": "s2w_toolkit.api",
    "as_pair": "s2w_toolkit.api",
    "wrap_module": "s2w_toolkit.backbones.wrapped",
    "load_attributes": "s2w_toolkit.attributes.composite",
    "build_explainer": "s2w_toolkit.pipeline",
}

__all__ = ["ClassRef", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 's2w_toolkit' has no attribute {name!r}")
