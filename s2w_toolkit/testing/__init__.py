"""A conformance suite for explainer plugins, and small helpers for testing them.

``check_explainer(MyExplainer)`` runs every check on the bundled demo faces with the default
backbone and raises ``AssertionError`` listing the checks that failed. With pytest, parametrise
over :data:`CHECKS` to see each check pass or fail on its own::

    @pytest.fixture(scope="module")
    def run():
        return ExplainerRun(MyExplainer)

    @pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
    def test_conformance(check, run):
        check(run)

The checks: both sides present, every map 2-D and non-empty, values finite, deterministic with a
seed, ``batch_size`` does not change the result, the pair is left as it was, a JSON round trip,
a rendered figure, a constant face and the same face twice. :func:`check_backbone` checks a
backbone against the ``Backbone`` contract in the same way. Nothing here imports pytest.

Example:
    >>> from s2w_toolkit.testing import CHECKS, check_explainer, pair_from_faces, random_faces, tiny_backbone
    >>> from s2w_toolkit.explainers.input_gradient import InputGradientExplainer
    >>> list(CHECKS)[:3]
    ['maps', 'finite', 'deterministic']
    >>> net = tiny_backbone()
    >>> check_explainer(InputGradientExplainer, pair_from_faces(net, *random_faces(2, 16)), net)  # passes: None
"""

from __future__ import annotations

from .backbone_checks import check_backbone
from .checks import (
    CHECKS,
    check_batch_size,
    check_degenerate_pairs,
    check_deterministic,
    check_explainer,
    check_figure,
    check_finite,
    check_json_round_trip,
    check_maps,
    check_pair_unchanged,
)
from .harness import (
    DEMO_FACES,
    ExplainerRun,
    all_maps,
    copy_pair,
    default_backbone,
    demo_pair,
    explainer_names,
    use_plugins,
)
from .nets import pair_from_faces, random_faces, randomise_batch_norm, tiny_backbone

__all__ = [
    "CHECKS", "DEMO_FACES", "ExplainerRun", "all_maps", "check_backbone", "check_batch_size", "check_degenerate_pairs",
    "check_deterministic", "check_explainer", "check_figure", "check_finite", "check_json_round_trip", "check_maps",
    "check_pair_unchanged", "copy_pair", "default_backbone", "demo_pair", "explainer_names", "pair_from_faces",
    "random_faces", "randomise_batch_norm", "tiny_backbone", "use_plugins",
]
