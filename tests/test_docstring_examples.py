"""The examples in the docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import s2w_toolkit

MODULES = sorted(m.name for m in pkgutil.walk_packages(s2w_toolkit.__path__, "s2w_toolkit."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0, f"{name} has no runnable example"  # a module without one passes for nothing
    assert failed == 0


def test_public_classes_have_examples():
    for name in s2w_toolkit.__all__:
        obj = getattr(s2w_toolkit, name)
        if isinstance(obj, type) and obj.__module__.startswith("s2w_toolkit"):
            module_doc = importlib.import_module(obj.__module__).__doc__ or ""
            assert ">>>" in (obj.__doc__ or "") + module_doc, f"{name} has no runnable example"
