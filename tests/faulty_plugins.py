"""Explainers that fail in every way a plugin can, for the fault-isolation tests (not a test module).

In-process tests get a registry with these added (:func:`registry`); tests that need a real
process get an environment in which they are an installed plugin (:func:`subprocess_env`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from s2w_toolkit import Explainer, Explanation, hookimpl

HERE = Path(__file__).resolve().parent


class _Base(Explainer):
    def _ok(self, pair, backbone, a=None):
        ones = np.ones((6, 6)) if a is None else a
        return Explanation(score=backbone.similarity(pair.a, pair.b).item(), maps={"a": ones, "b": np.ones((6, 6))})


class Raises(_Base):
    name = "faulty-raises"

    def explain(self, pair, backbone, attributes=None):
        raise RuntimeError("boom inside the plugin")


class NanMaps(_Base):
    name = "faulty-nan"

    def explain(self, pair, backbone, attributes=None):
        return self._ok(pair, backbone, np.full((6, 6), np.nan))


class EmptyMap(_Base):
    name = "faulty-empty"

    def explain(self, pair, backbone, attributes=None):
        return self._ok(pair, backbone, np.zeros((0, 0)))


class NanScore(_Base):
    name = "faulty-nan-score"

    def explain(self, pair, backbone, attributes=None):
        return Explanation(score=float("nan"), maps={"a": np.ones((6, 6)), "b": np.ones((6, 6))})


class Exits(_Base):
    name = "faulty-exit"

    def explain(self, pair, backbone, attributes=None):
        sys.exit(3)


class RenderRaises(_Base):
    name = "faulty-render"

    def explain(self, pair, backbone, attributes=None):
        return self._ok(pair, backbone)

    def render(self, explanation, face_a, face_b, path):
        raise ValueError("cannot draw")


class Mutates(_Base):
    name = "faulty-mutates"

    def explain(self, pair, backbone, attributes=None):
        pair.a.mul_(0.0).add_(1.0)  # in place: must not reach any other explainer
        pair.image_a[:] = 0
        return self._ok(pair, backbone)


class Slow(_Base):
    """Sleeps a second a pair: keeps a benchmark running long enough to be interrupted."""

    name = "faulty-slow"

    def explain(self, pair, backbone, attributes=None):
        time.sleep(float(os.environ.get("FAULTY_SLOW_SECONDS", "1")))
        return self._ok(pair, backbone)


ALL = [Raises, NanMaps, EmptyMap, NanScore, Exits, RenderRaises, Mutates, Slow]


@hookimpl
def s2w_register_explainers():
    return ALL


def registry():
    """The installed plugins plus these explainers (set it with ``set_registry``)."""
    from s2w_toolkit.registry import Registry, build_plugin_manager

    pm, dists = build_plugin_manager()
    pm.register(sys.modules[__name__], name="faulty")
    dists["faulty"] = ("faulty-plugins", "0.1")
    return Registry(pm, dists)


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ``subprocess`` in which this module is an installed ``s2w`` plugin."""
    site = tmp_path / "faulty-site"
    info = site / "faulty_plugins-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: faulty-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[s2w]\nfaulty = faulty_plugins\n")
    path = os.pathsep.join([str(site), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}
