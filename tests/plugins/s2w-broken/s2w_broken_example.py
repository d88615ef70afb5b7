"""Explainers that break the plugin contract, each in one way (for the toolkit's own tests).

Installed, they must not break the project's test suite; given to
``s2w_toolkit.testing.check_explainer``, each must fail with a message saying what is wrong.
"""

import os
import sys
import time

from s2w_toolkit import Explainer, Explanation, hookimpl


def _score(pair, backbone):
    import torch  # here, not at the top: listing plugins and ``s2w --help`` stay free of torch

    with torch.no_grad():
        return backbone.similarity(pair.a, pair.b).item()


class _Normal(Explainer):
    """A valid explanation: a flat map on each side."""

    def explain(self, pair, backbone, attributes=None):
        import numpy as np

        ones = np.ones(tuple(pair.a.shape[-2:]))
        return Explanation(score=_score(pair, backbone), maps={"a": ones, "b": ones})


class BrokenRaises(Explainer):
    name = "broken-raises"

    def explain(self, pair, backbone, attributes=None):
        raise RuntimeError("broken-raises always raises")


class BrokenNaN(Explainer):
    name = "broken-nan"

    def explain(self, pair, backbone, attributes=None):
        import numpy as np

        nan = np.full((8, 8), np.nan)
        return Explanation(score=_score(pair, backbone), maps={"a": nan, "b": nan})


class BrokenEmpty(Explainer):
    name = "broken-empty"

    def explain(self, pair, backbone, attributes=None):
        import numpy as np

        empty = np.zeros((0, 0))
        return Explanation(score=_score(pair, backbone), maps={"a": empty, "b": empty})


class BrokenRender(_Normal):
    name = "broken-render"

    def render(self, explanation, face_a, face_b, path):
        raise OSError("broken-render cannot draw")


class BrokenExit(Explainer):
    name = "broken-exit"

    def explain(self, pair, backbone, attributes=None):
        sys.exit(3)


class BrokenMutates(_Normal):
    name = "broken-mutates"

    def explain(self, pair, backbone, attributes=None):
        import torch

        result = super().explain(pair, backbone, attributes)
        with torch.no_grad():
            pair.a.mul_(0.5)
        return result


class BrokenNaNScore(Explainer):
    name = "broken-nan-score"

    def explain(self, pair, backbone, attributes=None):
        import numpy as np

        ones = np.ones((8, 8))
        return Explanation(score=float("nan"), maps={"a": ones, "b": ones})


class BrokenSlow(_Normal):
    """Valid, but sleeps ``S2W_BROKEN_SLOW_SECONDS`` (default 1) a pair: a run to interrupt.

    With ``S2W_BROKEN_SLOW_GATE`` set to a path, each pair also waits (at most five minutes)
    until that file exists: a run that holds its folder for exactly as long as a test needs.
    """

    name = "broken-slow"

    def explain(self, pair, backbone, attributes=None):
        time.sleep(float(os.environ.get("S2W_BROKEN_SLOW_SECONDS", "1")))
        gate = os.environ.get("S2W_BROKEN_SLOW_GATE")
        deadline = time.monotonic() + 300
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().explain(pair, backbone, attributes)


EXPLAINERS = [BrokenRaises, BrokenNaN, BrokenEmpty, BrokenRender, BrokenExit, BrokenMutates, BrokenNaNScore,
              BrokenSlow]


@hookimpl
def s2w_register_explainers():
    return EXPLAINERS
