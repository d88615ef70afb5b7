"""The broken example plugin (``tests/plugins/s2w-broken``) for the fault-isolation tests,
whether or not it is installed (not a test module).

In-process tests register it with :func:`registered`; tests that need a real process get an
environment in which it is an installed ``s2w`` plugin from :func:`subprocess_env`.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata
from pathlib import Path

from s2w_toolkit.testing import use_plugins

PACKAGE = Path(__file__).resolve().parent / "plugins" / "s2w-broken"
DISTRIBUTION = "s2w-broken-example"


def _installed() -> bool:
    try:
        metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


def module():
    """The plugin module, imported from the installed package or from its source folder."""
    if not _installed() and str(PACKAGE) not in sys.path:
        sys.path.insert(0, str(PACKAGE))
    return importlib.import_module("s2w_broken_example")


def registered():
    """A context manager: the installed plugins plus the broken ones are the registered ones."""
    return use_plugins(module(), installed=True)


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ``subprocess`` in which the broken plugin is installed."""
    if _installed():
        return dict(os.environ)
    site = tmp_path / "broken-site"
    info = site / "s2w_broken_example-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[s2w]\nbroken-example = s2w_broken_example\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PACKAGE), os.environ.get("PYTHONPATH", "")])}
