"""s2w plugin ``xssab``: similarity score argument backpropagation (Huber et al., WACV 2024).

The hook registers the explainer by reference, so listing plugins never imports torch; the
explainer itself lives in :mod:`s2w_xssab.explainer`.

Example:
    >>> [ref.name for ref in s2w_register_explainers()]
    ['xssab']
"""

from __future__ import annotations

from s2w_toolkit import ClassRef, hookimpl

__all__ = ["s2w_register_explainers"]


@hookimpl
def s2w_register_explainers() -> list[ClassRef]:
    """The ``xssab`` explainer, imported when it is first used."""
    return [ClassRef("s2w_xssab.explainer:XSSABExplainer", name="xssab")]
