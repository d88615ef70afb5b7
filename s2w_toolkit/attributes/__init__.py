"""Attribute models: the words Sim2Word speaks, with where on the face each is seen.

Example:
    >>> from s2w_toolkit.attributes import AttributePrediction, KINDS
    >>> KINDS
    ('category', 'binary')
"""

from .prediction import KINDS, AttributePrediction

__all__ = ["KINDS", "AttributePrediction"]
