"""The examples in the docstrings run and print what they say."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import s2w_toolkit

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.walk_packages(s2w_toolkit.__path__, "s2w_toolkit."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0, f"{name} has no runnable example"  # a module without one passes for nothing
    assert failed == 0


def _plugin_modules() -> list[str]:
    """The modules of the repository's plugins (the README's test command installs them all)."""
    names = []
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        for top in re.findall(r'^(?:packages|py-modules) = \[([^\]]*)\]', pyproject.read_text(), re.M):
            for name in re.findall(r'"([\w.]+)"', top):
                package = importlib.import_module(name)  # not installed: install as the README says
                names.append(name)
                names += [m.name for m in pkgutil.walk_packages(getattr(package, "__path__", []), name + ".")]
    return names


def test_public_classes_have_examples():
    """Every public class has a ``>>>`` example in its own docstring (not its module's, nor an
    inherited one)."""
    missing = []
    for name in MODULES + _plugin_modules():
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == name and not attr.startswith("_"):
                if ">>>" not in (obj.__dict__.get("__doc__") or ""):
                    missing.append(f"{name}.{attr}")
    assert not missing, f"public classes without a runnable example: {missing}"
    assert len(MODULES) > 100  # the walk found the package
