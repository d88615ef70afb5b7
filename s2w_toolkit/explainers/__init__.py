"""Built-in explainers.

Example:
    >>> from s2w_toolkit.registry import get_registry
    >>> get_registry().explainer("input-gradient").__name__, get_registry().explainer("centre").control
    ('InputGradient', True)
"""
