"""Explainers: what they return, the family bases, and the built-in ones.

* :mod:`~s2w_toolkit.explainers.explanation`: :class:`Explanation` and :class:`Word`, what every
  explainer returns (also importable as ``s2w_toolkit.Explanation``);
* :mod:`~s2w_toolkit.explainers.families`: the one similarity pipeline and its layer, gradient
  and perturbation family bases;
* :mod:`~s2w_toolkit.explainers.input_gradient` and :mod:`~s2w_toolkit.explainers.controls`:
  the built-in input-gradient explainer and the content-free controls (Sim2Word has its own
  package, :mod:`s2w_toolkit.sim2word`). The interface itself is
  :class:`s2w_toolkit.interfaces.Explainer`.

Example:
    >>> from s2w_toolkit.registry import get_registry
    >>> get_registry().explainer("input-gradient").__name__, get_registry().explainer("centre").control
    ('InputGradientExplainer', True)
"""
