"""Lazy loading, so that listing plugins or printing help never imports torch.

``ClassRef`` names a class by ``"module:Class"`` and imports it on first use; built-ins
register this way. :func:`deferred_torch` lets plugin modules that ``import torch`` at the top
be imported without loading torch until they touch it.

Example:
    >>> ref = ClassRef("s2w_toolkit.explanation:Explanation", name="explanation")
    >>> ref.name, ref.load().__name__
    ('explanation', 'Explanation')
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator


@dataclass(frozen=True)
class ClassRef:
    """A registrable class given by import path, imported only when used.

    ``details`` are short labels shown by ``s2w plugins`` without importing the class (for a
    backbone, what its ``summary()`` returns); when absent the class is imported to get them.
    """

    target: str
    name: str
    details: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def load(self) -> type:
        module_name, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute that is
    not import-system bookkeeping imports the real module and forwards to it from then on."""

    def __init__(self, name: str, spec) -> None:
        super().__init__(name)
        self.__spec__ = spec
        self.__loader__ = spec.loader
        self.__real__ = None

    def __getattr__(self, attr: str):
        real = self.__dict__.get("__real__")
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = importlib.import_module(name)
            self.__dict__["__real__"] = real
        return getattr(real, attr)


@contextmanager
def deferred_torch() -> Iterator[None]:
    """Within the block, ``import torch`` binds a stand-in that loads torch on first use."""
    placed = None
    if "torch" not in sys.modules:
        spec = importlib.util.find_spec("torch")
        if spec is not None:
            placed = _DeferredModule("torch", spec)
            sys.modules["torch"] = placed
    try:
        yield
    finally:
        if placed is not None and sys.modules.get("torch") is placed:
            del sys.modules["torch"]
