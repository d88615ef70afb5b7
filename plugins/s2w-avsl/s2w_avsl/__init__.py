"""s2w plugin ``avsl``: multi-level similarity attribution, a post-hoc form of AVSL
(Zhang et al., CVPR 2022).

The hook registers the explainer by reference, so listing plugins never imports torch; the
code lives in :mod:`s2w_avsl.levels` (which feature maps) and :mod:`s2w_avsl.explainer`.

Example:
    >>> [ref.name for ref in s2w_register_explainers()]
    ['avsl']
"""

from __future__ import annotations

from s2w_toolkit import ClassRef, hookimpl

__all__ = ["s2w_register_explainers"]


@hookimpl
def s2w_register_explainers() -> list[ClassRef]:
    """The ``avsl`` explainer, imported when it is first used."""
    return [ClassRef("s2w_avsl.explainer:AVSLExplainer", name="avsl")]
