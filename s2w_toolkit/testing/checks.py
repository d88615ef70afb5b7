"""The conformance checks every explainer must pass, and :func:`check_explainer`, which runs them.

Each check takes an :class:`~s2w_toolkit.testing.harness.ExplainerRun` and raises
``AssertionError`` with a message naming the explainer; :data:`CHECKS` lists them by name.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit import Explainer, Explanation
    >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
    >>> class Noise(Explainer):
    ...     name = "noise"
    ...     def explain(self, pair, backbone, attributes=None):
    ...         score = backbone.similarity(pair.a, pair.b).item()
    ...         return Explanation(score=score, maps={"a": np.random.rand(4, 4), "b": np.ones((4, 4))})
    >>> net = tiny_backbone()
    >>> check_explainer(Noise, pair_from_faces(net, *random_faces(2, 16)), net)
    Traceback (most recent call last):
    ...
    AssertionError: explainer 'noise' failed 2 of 8 conformance checks:
      - deterministic: explainer 'noise': map 1 differs by up to ... (tolerance 1e-06) in a second run with seed 0
      - batch_size: explainer 'noise': map 1 differs by up to ... (tolerance 0.0001) with batch_size=3
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..explainers.explanation import SIDES, Explanation
from ..interfaces import Explainer, Pair
from .harness import ExplainerRun, all_maps, copy_pair

PNG = b"\x89PNG\r\n\x1a\n"


def _fail(run: ExplainerRun, message: str) -> AssertionError:
    return AssertionError(f"explainer {run.name!r}: {message}")


def _assert_finite(run: ExplainerRun, e: Explanation, context: str = "") -> None:
    scores = [e.score] + [w.score for w in e.words or []]
    if not np.isfinite(scores).all():
        raise _fail(run, f"non-finite score(s) {scores}{context}")
    maps = all_maps(e)
    for i, m in enumerate(maps, start=1):
        bad = int(np.size(m) - np.isfinite(m).sum())
        if bad:
            raise _fail(run, f"map {i} of {len(maps)} has {bad} non-finite values{context}")


def _assert_same_maps(run: ExplainerRun, first: Explanation, other: Explanation, atol: float, what: str,
                      rtol: float = 1e-7) -> None:
    a, b = all_maps(first), all_maps(other)
    if len(a) != len(b):
        raise _fail(run, f"{len(a)} maps, then {len(b)} {what}")
    for i, (x, y) in enumerate(zip(a, b), start=1):
        if x.shape != y.shape:
            raise _fail(run, f"map {i} has shape {x.shape}, then {y.shape} {what}")
        if not np.allclose(x, y, rtol=rtol, atol=atol):  # NaN differences fail too
            diff = float(np.max(np.abs(x.astype(np.float64) - y)))
            raise _fail(run, f"map {i} differs by up to {diff:.3g} (tolerance {atol:g}) {what}")


def check_maps(run: ExplainerRun) -> None:
    """Both sides are present; every map is 2-D and non-empty; name, backbone, threshold set."""
    e = run.first
    if set(e.maps) != set(SIDES):
        raise _fail(run, f"maps for sides {sorted(e.maps)}, not {list(SIDES)}")
    for i, m in enumerate(all_maps(e), start=1):
        if m.ndim != 2 or m.size == 0:
            raise _fail(run, f"map {i} has shape {m.shape}; each map must be 2-D and non-empty")
    if e.explainer != run.name:
        raise _fail(run, f"the explanation names explainer {e.explainer!r}")
    if e.backbone != run.backbone.name or e.threshold is None:
        raise _fail(run, f"backbone {e.backbone!r} and threshold {e.threshold!r}, not {run.backbone.name!r}'s")


def check_finite(run: ExplainerRun) -> None:
    """The score, every word's score and every map value are finite."""
    _assert_finite(run, run.first)


def check_deterministic(run: ExplainerRun) -> None:
    """A second run with the same seed gives the same maps."""
    _assert_same_maps(run, run.first, run.explain(), 1e-6, f"in a second run with seed {run.options['seed']!r}")


def check_batch_size(run: ExplainerRun) -> None:
    """``batch_size=3`` gives the same maps as the default batch size, and no forward pass of
    the backbone then takes more than 3 images (an explainer that ignores its batch size would
    pass the first test for nothing)."""
    from ..capture import counting_images

    with counting_images(run.backbone) as count:
        small = run.explain(batch_size=3)
    if count.sizes and max(count.sizes) > 3:
        raise _fail(run, f"a forward pass of {max(count.sizes)} images with batch_size=3 (the option is ignored)")
    _assert_same_maps(run, run.first, small, 1e-4, "with batch_size=3")


def check_pair_unchanged(run: ExplainerRun) -> None:
    """``explain`` leaves the pair it is given as it was (tensors and images). Calls ``explain``
    directly: the toolkit's pipeline hands explainers a copy, but other callers may not."""
    given = copy_pair(run.pair)
    try:
        run.build().explain(given, run.backbone, run.attributes)
    except (Exception, SystemExit) as exc:
        raise _fail(run, f"explain raised {type(exc).__name__}: {exc}") from exc
    for field in ("a", "b", "image_a", "image_b"):
        x, y = (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
                for v in (getattr(run.pair, field), getattr(given, field)))
        if x.shape != y.shape or not np.array_equal(x, y):
            raise _fail(run, f"explain modified pair.{field} in place; work on a copy")


def check_json_round_trip(run: ExplainerRun) -> None:
    """``to_json`` then ``from_json`` gives back the score, words and maps (5 decimals)."""
    e = run.first
    try:
        back = Explanation.from_json(e.to_json())
    except Exception as exc:
        raise _fail(run, f"JSON round trip failed: {type(exc).__name__}: {exc}") from exc
    if back.score != e.score or back.explainer != e.explainer or back.words != e.words:
        raise _fail(run, "the score, name or words differ after a JSON round trip")
    _assert_same_maps(run, e, back, 5e-6, "after a JSON round trip", rtol=1e-6)  # float32 after 5 decimals


def check_figure(run: ExplainerRun) -> None:
    """``render`` writes a PNG figure (of more than 5 kB) to the path it is given."""
    e, explainer = run.first, run.build()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{run.name}.png"
        try:
            path = explainer.render(e, run.pair.image_a.copy(), run.pair.image_b.copy(), target)
        except (Exception, SystemExit) as exc:
            raise _fail(run, f"render raised {type(exc).__name__}: {exc}") from exc
        if not target.is_file() or Path(path) != target:
            raise _fail(run, f"render returned {path!r} and did not write {target.name}")
        if target.read_bytes()[:8] != PNG or target.stat().st_size <= 5_000:
            raise _fail(run, f"render wrote {target.stat().st_size} bytes that are not a PNG figure")


def check_degenerate_pairs(run: ExplainerRun) -> None:
    """A constant grey face, and the same face twice (score 1), give finite results."""
    pair = run.pair
    grey = np.full_like(pair.image_a, 128)
    constant = Pair(a=run.backbone.preprocess(grey), b=pair.b, image_a=grey, image_b=pair.image_b)
    _assert_finite(run, run.explain(constant), " (a constant grey face a)")
    same = copy_pair(pair)
    same.b, same.image_b = same.a.clone(), same.image_a.copy()
    e = run.explain(same)
    _assert_finite(run, e, " (the same face twice)")
    if abs(e.score - 1.0) > 1e-4:
        raise _fail(run, f"score {e.score} for the same face twice, not 1")


#: Every check by name, in the order :func:`check_explainer` runs them.
CHECKS: dict[str, Callable[[ExplainerRun], None]] = {
    check.__name__.removeprefix("check_"): check
    for check in (check_maps, check_finite, check_deterministic, check_batch_size, check_pair_unchanged,
                  check_json_round_trip, check_figure, check_degenerate_pairs)
}


def check_explainer(cls: type[Explainer], pair: Pair | None = None, backbone: Any = None,
                    options: dict[str, Any] | None = None, checks: dict[str, Callable] | None = None) -> None:
    """Run every conformance check (or those in ``checks``) on ``cls``: by default on the demo
    faces with the default backbone, with ``fast_options``, ``seed=0`` and ``options``.

    Raises ``AssertionError`` listing each failed check, or at once when ``explain`` fails.
    """
    run = ExplainerRun(cls, pair, backbone, options)
    run.first  # an explainer that cannot explain fails every check for one reason: say it once
    checks = CHECKS if checks is None else checks
    failures = []
    for name, check in checks.items():
        try:
            check(run)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    if failures:
        listed = "\n".join(f"  - {f}" for f in failures)
        raise AssertionError(f"explainer {run.name!r} failed {len(failures)} of {len(checks)} conformance checks:\n"
                             f"{listed}")
