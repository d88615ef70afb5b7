"""Sim2Word: the attribute words that explain a similarity score, found by counterfactual erasing.

Example:
    >>> from s2w_toolkit.sim2word.core import angular
    >>> angular(1.0), angular(0.0)
    (1.0, 0.5)
"""
