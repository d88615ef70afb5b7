"""Lazy loading, so that listing plugins or printing help never imports torch.

``ClassRef`` names a class by ``"module:Class"`` and imports it on first use; built-ins
register this way. It is the toolkit's one laziness mechanism: a plugin whose entry-point
module imports torch at the top makes ``s2w --help`` import torch too, so plugins keep heavy
imports in the modules their ``ClassRef`` s name, or inside methods.

Example:
    >>> ref = ClassRef("s2w_toolkit.explainers.explanation:Explanation", name="explanation")
    >>> ref.name, ref.load().__name__
    ('explanation', 'Explanation')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClassRef:
    """A registrable class given by import path, imported only when used.

    ``details`` are short labels shown by ``s2w plugins`` without importing the class (for a
    backbone, what its ``summary()`` returns); when absent the class is imported to get them.

    Example:
        >>> ref = ClassRef("fractions:Fraction", name="fraction", details={"input": "ratio"})
        >>> ref.load()(3, 6), ref.details["input"]
        (Fraction(1, 2), 'ratio')
    """

    target: str
    name: str
    details: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def load(self) -> type:
        module_name, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)
