"""The ``Explainer`` and ``AttributeModel`` interfaces and the ``Pair`` they receive.

These import neither torch nor numpy (they appear in annotations only), so plugins can be
listed, and ``s2w --help`` shown, without loading either. ``Backbone``
lives in :mod:`s2w_toolkit.backbones.base` because it is an ``nn.Module``.

Example:
    >>> class Constant(Explainer):
    ...     name = "constant"
    ...     def explain(self, pair, backbone, attributes=None):
    ...         import numpy as np
    ...         from s2w_toolkit import Explanation
    ...         return Explanation(score=0.0, maps={"a": np.ones((2, 2)), "b": np.ones((2, 2))})
    >>> Constant().name
    'constant'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .options import BaseOptions, build_options, check_options_class

if TYPE_CHECKING:
    import numpy as np

    from .explainers.explanation import Explanation


@dataclass
class Pair:
    """Two aligned faces ready for a backbone.

    ``a`` and ``b`` are the preprocessed ``(1, 3, H, W)`` tensors on the chosen device;
    ``image_a`` and ``image_b`` the aligned RGB uint8 faces ``(H, W, 3)`` for rendering.

    Example:
        >>> from s2w_toolkit.testing import random_faces, tiny_backbone
        >>> net, (face_a, face_b) = tiny_backbone(size=16), random_faces(2, 16)
        >>> pair = Pair(a=net.preprocess(face_a), b=net.preprocess(face_b), image_a=face_a, image_b=face_b)
        >>> pair.a.shape, pair.image_a.shape, pair.source_a, pair.info
        (torch.Size([1, 3, 16, 16]), (16, 16, 3), 'a', {})
    """

    a: Any
    b: Any
    image_a: np.ndarray
    image_b: np.ndarray
    source_a: str = "a"
    source_b: str = "b"
    info: dict = field(default_factory=dict)


#: The face regions an attribute's words can speak about. The swap game plants the first four
#: (:mod:`s2w_toolkit.game.regions`); ``face`` is the whole face (gender, age).
FACE_REGIONS = ("eyes", "eyebrows", "nose", "mouth", "cheeks", "jaw", "forehead", "hair", "face")


class AttributeModel(ABC):
    """Predicts attributes of aligned faces ("Big Nose", "Senior", ...) with evidence maps.

    ``predict`` takes faces already aligned to a backbone's template, RGB uint8
    ``(N, H, W, 3)``, together with that template, and returns one
    :class:`~s2w_toolkit.attributes.prediction.AttributePrediction` whose maps are in the same
    frame. A model that needs its own crop (a tighter chip, another size) makes it from the
    aligned face and brings its maps back. Neural models are also ``nn.Module`` s, so
    ``.to(device)`` moves them.

    Example:
        >>> import numpy as np
        >>> class AlwaysSmiling(AttributeModel):
        ...     name = "always-smiling"
        ...     attributes = ("Smiling",)
        ...     def predict(self, images, template=None):
        ...         from s2w_toolkit.attributes import AttributePrediction
        ...         n, h, w = images.shape[:3]
        ...         return AttributePrediction.build(self.attributes, [["Smiling"]] * n, np.ones((n, 1)),
        ...                                          np.ones((n, 1), bool), np.ones((n, 1, h, w)),
        ...                                          kinds=["binary"], model=self.name)
        >>> AlwaysSmiling().predict(np.zeros((2, 8, 8, 3), np.uint8)).words
        [['Smiling'], ['Smiling']]
    """

    name: ClassVar[str] = ""
    #: The attribute names predicted, in the order of the prediction's columns.
    attributes: ClassVar[tuple[str, ...]] = ()
    #: For each attribute, the face regions (names of :data:`FACE_REGIONS`) its words speak
    #: about: the swap game counts a planted nose as found when the top word's attribute speaks
    #: about the nose. An attribute left out speaks about the whole ``face``.
    regions: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def load(cls, weights: str | None = None) -> "AttributeModel":
        """Build the model with its weights (the packaged ones when ``weights`` is None)."""
        return cls()

    @abstractmethod
    def predict(self, images: np.ndarray, template: Any = None) -> Any:
        """Attributes of aligned faces ``(N, H, W, 3)`` uint8 (or one ``(H, W, 3)``) that were
        aligned to ``template`` (default: dlib's chip, padding 0.25, at their size)."""

    def to(self, device: Any) -> "AttributeModel":
        """Move to ``device`` (a no-op for models without tensors)."""
        return self

    def word_regions(self) -> dict[str, tuple[str, ...]]:
        """Each attribute's face regions (:attr:`regions`; ``("face",)`` where undeclared)."""
        return {a: tuple(self.regions.get(a, ("face",))) for a in self.attributes}


class Explainer(ABC):
    """Explains a pair's similarity. A plugin writes one method,
    ``explain(pair, backbone, attributes=None) -> Explanation``; users, the CLI, the benchmark
    and the audit call the explainer itself, ``explainer(pair, backbone)``, which runs
    ``explain`` on its own copy of the pair, checks the result and fills in the backbone, the
    threshold and the timing (see :meth:`__call__`).

    Its options are declared by ``Options``, a frozen dataclass subclassing
    :class:`~s2w_toolkit.options.BaseOptions` (see :mod:`s2w_toolkit.options`): the
    constructor converts text values by field type, rejects undeclared keys with an
    :class:`~s2w_toolkit.errors.OptionError` and keeps the result in ``self.options``.

    Example:
        >>> from s2w_toolkit.registry import get_registry
        >>> cls = get_registry().explainer("input-gradient")
        >>> cls.name, cls(seed="3").options
        ('input-gradient', BaseOptions(batch_size=64, seed=3))
    """

    name: ClassVar[str] = ""
    #: Whether ``explain`` uses an attribute model (the CLI then loads one and passes it in).
    uses_attributes: ClassVar[bool] = False
    #: What the maps claim: ``"similarity"`` (where the faces are alike: removing it should lower
    #: the similarity) or ``"dissimilarity"`` (where they differ: removing it should raise it).
    #: The benchmark judges each metric in the direction this claim predicts.
    evidence: ClassVar[str] = "similarity"
    #: Which map answers "where is face b unlike face a" (the swap game scores it against the
    #: planted region): the name of one of its ``extra_maps``, or None for its main ``maps``.
    dissimilarity_map: ClassVar[str | None] = None
    #: A content-free control (``random``, ``centre``): the benchmark compares explainers with it.
    control: ClassVar[bool] = False
    #: The options dataclass (a subclass of :class:`~s2w_toolkit.options.BaseOptions`).
    Options: ClassVar[type] = BaseOptions
    #: Options that make a quick run (fewer samples, say) for the conformance tests; a plugin
    #: that needs none leaves it empty.
    fast_options: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_options_class(cls.Options, cls.__name__)

    def __init__(self, **options: Any) -> None:
        #: The typed options, an instance of ``Options``.
        self.options = build_options(type(self), options)

    @abstractmethod
    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        """Return the explanation of ``pair`` under ``backbone`` (the one method a plugin writes)."""

    def __call__(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        """Explain ``pair`` the complete way: :meth:`explain` on its own copy of the pair (it may
        change it in place), the result checked (:meth:`Explanation.problems`), ``explainer``,
        ``backbone``, ``threshold`` and ``metadata`` (``seconds``, ``device``, ``sources``)
        filled in where the explainer left them empty, and the faces attached, so that
        ``.figure()`` draws this explainer's figure. Every failure of the plugin is a one-line
        :class:`~s2w_toolkit.errors.PluginError` naming it; Ctrl-C still stops the run."""
        import time

        from .errors import PluginError
        from .explainers.explanation import Explanation
        from .pipeline import call_plugin, isolated_copy

        start = time.perf_counter()
        result = call_plugin(f"explainer {self.name!r}", self.explain, isolated_copy(pair), backbone, attributes)
        if not isinstance(result, Explanation):
            raise PluginError(f"explainer {self.name!r} returned {type(result).__name__}, not an Explanation")
        problems = result.problems()
        if problems:
            raise PluginError(f"explainer {self.name!r} returned an invalid explanation: {'; '.join(problems)}")
        result.explainer = result.explainer or self.name
        result.backbone = result.backbone or backbone.name
        if result.threshold is None:
            result.threshold = backbone.threshold
        result.metadata.setdefault("seconds", time.perf_counter() - start)
        result.metadata.setdefault("device", str(backbone.device))
        result.metadata.setdefault("sources", {"a": pair.source_a, "b": pair.source_b})
        result.metadata.setdefault("evidence", self.evidence)  # what its maps answer: figures group by it
        if self.control:
            result.metadata.setdefault("control", True)
        return result.with_faces(pair.image_a, pair.image_b, self)

    @classmethod
    def words_table(cls, explanation: Explanation) -> Any:
        """The explanation's ranked words as a ``rich`` table for the console (``s2w explain``
        prints it); override to show an explainer's own numbers beside each word."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"{explanation.explainer}: ranked words"))  # Text: never read as markup
        for column in ("#", "word", "score"):
            table.add_column(column, justify="left" if column == "word" else "right")
        for rank, word in enumerate((explanation.words or [])[:10], start=1):
            table.add_row(str(rank), Text(word.text), f"{word.score:.4f}")
        return table

    def figure(self, explanation: Explanation, face_a: np.ndarray, face_b: np.ndarray) -> Any:
        """The explanation's figure on the aligned faces, a :class:`matplotlib.figure.Figure`
        (make it with :func:`s2w_toolkit.plotting.new_figure`, never with pyplot); override for
        a figure of your own."""
        from .render import explanation_figure

        return explanation_figure(explanation, face_a, face_b)

    def details_figure(self, explanation: Explanation, face_a: np.ndarray, face_b: np.ndarray) -> Any:
        """A second, diagnostic figure (``s2w explain --details``), or None when the explainer
        has none (the default)."""
        return None

    def render(self, explanation: Explanation, face_a: np.ndarray, face_b: np.ndarray, path: Any) -> str:
        """Write :meth:`figure` to ``path`` as a PNG (atomically); return the path."""
        from .plotting import save_figure

        return save_figure(self.figure(explanation, face_a, face_b), path)
