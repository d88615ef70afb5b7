"""Benchmark metrics as objects: what each measures, which way is better, for which explainers.

A :class:`Metric` measures one (pair, explainer) result row: :meth:`Metric.measure` returns
plain data, stored as ``row["metrics"][metric.name]``. It declares the per-pair numbers it
yields as :class:`Score` s (each with its direction), reads them back from a stored row with
:meth:`Metric.side_values`, and may pool the rows of one explainer (:meth:`Metric.summarise`)
or of the whole run (:meth:`Metric.summarise_run`). The runner and the summary only go through
this interface. Third-party packages add metrics with the hook ``s2w_register_metrics``.

Directions depend on what a map claims (:attr:`s2w_toolkit.interfaces.Explainer.evidence`):
a :class:`Score`'s ``better`` is stated for maps of *similarity* evidence, and ``flips`` says
that a map of *dissimilarity* evidence is judged the other way (removing what makes two faces
differ should raise their similarity, not lower it).

Example:
    >>> class Brightness(Metric):
    ...     name = "brightness"
    ...     description = "mean pixel value of each face"
    ...     category = "cost"
    ...     scores = (Score("brightness", "bright", "mean pixel value", better="none", judged=False),)
    ...     def measure(self, job):
    ...         return {s: {"brightness": float(f.mean())} for s, f in (("a", job.pair.image_a), ("b", job.pair.image_b))}
    >>> Brightness().describe()["scores"]["brightness"]["better"]
    {'similarity': 'none', 'dissimilarity': 'none'}
    >>> Score("deletion_auc", "del", "", better="lower").direction("dissimilarity")
    'higher'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

CATEGORIES = ("faithfulness", "randomisation", "verification", "cost")
EVIDENCE = ("similarity", "dissimilarity")
SIDES = ("a", "b", "both")


@dataclass(frozen=True)
class Score:
    """One number per pair (and side) that a metric reports.

    ``better`` is ``"higher"``, ``"lower"`` or ``"none"`` for maps of similarity evidence, or a
    mapping from pair type (``"mate"``, ``"non-mate"``) to one of those where they differ;
    ``flips``: maps of dissimilarity evidence are judged the other way; ``judged``: compared
    with the content-free controls (``random``, ``centre``).

    Example:
        >>> Score("x", "x", "", better={"mate": "lower", "non-mate": "higher"}).direction("similarity", "non-mate")
        'higher'
    """

    name: str
    label: str
    description: str
    better: str | Mapping[str, str] = "higher"
    flips: bool = True
    judged: bool = True

    def direction(self, evidence: str = "similarity", pair_type: str = "mate") -> str:
        """``"higher"``, ``"lower"`` or ``"none"``: which way is better for this claim and pair type."""
        better = self.better if isinstance(self.better, str) else self.better.get(pair_type, "none")
        if better == "none" or not self.flips or evidence != "dissimilarity":
            return better
        return "lower" if better == "higher" else "higher"


@dataclass
class Job:
    """Everything a metric may need to measure one explainer's result on one pair.

    ``units``: both faces' L2-normalised embeddings ``(2, D)``; ``explain(backbone)`` explains
    the pair again with another backbone (the sanity check); ``cache`` is shared by every
    explainer of this pair (for work that does not depend on the explainer); ``run`` holds the
    run's settings (``steps``, ``fill``, ``seed``, ``batch_size``); ``timing`` what the
    explanation cost.

    Example:
        >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
        >>> from s2w_toolkit.targets import pair_units
        >>> net = tiny_backbone()
        >>> pair = pair_from_faces(net, *random_faces(2, 16))
        >>> job = Job(spec=None, pair=pair, explanation=None, backbone=net, explainer=object,
        ...           units=pair_units(net, pair), run={"steps": 4}, explain=lambda backbone: None)
        >>> job.units.shape, job.run["steps"], job.cache, job.timing  # cache and timing start empty
        (torch.Size([2, 8]), 4, {}, {})
    """

    spec: Any
    pair: Any
    explanation: Any
    backbone: Any
    explainer: type
    units: Any
    run: Mapping[str, Any]
    explain: Callable[[Any], Any]
    cache: dict = field(default_factory=dict)
    #: ``seconds`` and ``forward_passes`` of the explanation.
    timing: dict = field(default_factory=dict)


class Metric:
    """A benchmark metric; subclass it and register the class with ``s2w_register_metrics``.

    Example:
        >>> Metric.describe.__doc__.split(":")[0]
        'Plain data for summaries and listings'
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: One of :data:`CATEGORIES`.
    category: ClassVar[str] = "faithfulness"
    #: Where the protocol comes from (paper, reference code).
    source: ClassVar[str] = ""
    scores: ClassVar[tuple[Score, ...]] = ()
    #: Whether every benchmark runs it; an optional metric runs when asked for by name.
    default: ClassVar[bool] = True

    def settings(self) -> dict[str, Any]:
        """What makes its numbers comparable between runs (recorded in every row)."""
        return {}

    def applies_to(self, explainer: type) -> bool:
        """Whether it measures results of this explainer class."""
        return True

    def prepare(self, pairs: list, backbone: Any) -> None:
        """Called once per run before the first pair."""

    def measure(self, job: Job) -> Any:
        """Plain data for ``row["metrics"][self.name]``, or None when it does not apply."""
        return None

    def side_values(self, value: Any) -> dict[str, dict[str, float]]:
        """The :attr:`scores` of one stored value, per side (``"a"``, ``"b"`` and/or ``"both"``;
        ``"both"`` defaults to the mean of the two sides). By default ``value`` is
        ``{side: {score: number}}``."""
        names = {s.name for s in self.scores}
        return {side: {k: float(v) for k, v in per.items() if k in names}
                for side, per in (value or {}).items() if side in SIDES and isinstance(per, Mapping)}

    def summarise(self, rows: list[dict]) -> dict | None:
        """Pooled results over one explainer's rows that carry this metric (None: nothing)."""
        return None

    def summarise_run(self, rows: list[dict]) -> dict | None:
        """Pooled results over every explainer's rows (None: nothing)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Plain data for summaries and listings: name, description, category, source, scores."""
        return {"description": self.description, "category": self.category, "source": self.source,
                "default": self.default, "settings": self.settings(),
                "scores": {s.name: {"label": s.label, "description": s.description, "judged": s.judged,
                                    "better": {e: s.direction(e) if isinstance(s.better, str) else
                                               {t: s.direction(e, t) for t in s.better} for e in EVIDENCE}}
                           for s in self.scores}}
