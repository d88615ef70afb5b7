"""s2w-toolkit: explain why a face-verification model finds two faces similar or not.

The torch-free parts (interfaces, ``Explanation``, the ``hookimpl`` marker) import eagerly;
the torch-based ones (``Backbone``, ``load_backbone``, ``load_pair``) on first access, so that
``s2w --help`` and plugin listing stay fast.

Example:
    >>> from s2w_toolkit import Explanation, Explainer, hookimpl
    >>> Explainer.__name__
    'Explainer'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .explanation import Explanation, Word
from .hookspecs import hookimpl
from .interfaces import AttributeModel, Explainer, Pair
from .lazy import ClassRef

_LAZY = {
    "Backbone": "s2w_toolkit.backbone",
    "load_backbone": "s2w_toolkit.pipeline",
    "load_pair": "s2w_toolkit.pipeline",
    "load_face": "s2w_toolkit.pipeline",
    "verify": "s2w_toolkit.pipeline",
    "get_registry": "s2w_toolkit.registry",
    "render_explanation": "s2w_toolkit.render",
}

__all__ = ["AttributeModel", "ClassRef", "Explainer", "Explanation", "Pair", "Word", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 's2w_toolkit' has no attribute {name!r}")
