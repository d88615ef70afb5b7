"""Running one explainer class under test: its options, a pair it cannot spoil, failures as assertions.

Example:
    >>> from s2w_toolkit.testing import ExplainerRun, pair_from_faces, random_faces, tiny_backbone
    >>> from s2w_toolkit.explainers.input_gradient import InputGradientExplainer
    >>> net = tiny_backbone()
    >>> run = ExplainerRun(InputGradientExplainer, pair_from_faces(net, *random_faces(2, 16)), net)
    >>> run.name, run.first.maps["a"].shape
    ('input-gradient', (16, 16))
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from ..explainers.explanation import SIDES, Explanation
from ..interfaces import Explainer, Pair
from ..registry import Registry, build_plugin_manager, get_registry, set_registry

#: The faces of :func:`demo_pair`: two different people, so maps have something to show.
DEMO_FACES = ("obama", "biden")


@lru_cache(maxsize=None)
def default_backbone(device: str = "cpu") -> Any:
    """The toolkit's default backbone (``dlib-resnet``) on ``device``, loaded once."""
    from ..pipeline import load_backbone

    return load_backbone("dlib-resnet", device=device)


@lru_cache(maxsize=8)
def demo_pair(backbone: Any = None) -> Pair:
    """The bundled demo faces (Obama, Biden) aligned and preprocessed for ``backbone`` (default:
    :func:`default_backbone`). Cached: never modify it; :class:`ExplainerRun` hands out copies."""
    from ..data import demo_image
    from ..pipeline import load_pair

    return load_pair(*(demo_image(name) for name in DEMO_FACES), backbone or default_backbone())


def copy_pair(pair: Pair) -> Pair:
    """A copy of ``pair`` (tensors cloned), for an explainer that might edit its input: the copy
    :meth:`Explainer.__call__ <s2w_toolkit.interfaces.Explainer.__call__>` hands every explainer."""
    from ..pipeline import isolated_copy

    return isolated_copy(pair)


def all_maps(e: Explanation) -> list[np.ndarray]:
    """Every map of ``e``: the main one per side, then each extra map per side."""
    return [e.maps[s] for s in SIDES] + [m[s] for m in e.extra_maps.values() for s in SIDES]


def explainer_names(distributions: Any = None, registry: Registry | None = None) -> list[str]:
    """The registered explainers' names, only those from ``distributions`` (distribution names,
    e.g. ``{"s2w-toolkit", "my-plugin"}``) when given: so a test suite runs its own explainers."""
    registry = registry or get_registry()
    wanted = None if distributions is None else set(distributions)
    return [e.name for e in registry.all_entries()
            if e.kind == "explainer" and (wanted is None or e.distribution in wanted)]


@contextmanager
def use_plugins(*plugins: Any, installed: bool = False) -> Iterator[Registry]:
    """Make ``plugins`` (modules or objects with ``@hookimpl`` functions) the registered ones,
    with the built-ins, for the ``with`` block; the registry in use before is restored after.
    ``installed=True`` also loads every installed entry point (a plugin already installed is
    then not registered twice)."""
    from .. import registry as module

    pm, dists = build_plugin_manager(entry_points=None if installed else list)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin, name=getattr(plugin, "__name__", None))
    before = module._current
    reg = Registry(pm, dists)
    set_registry(reg)
    try:
        yield reg
    finally:
        set_registry(before)


class ExplainerRun:
    """One explainer class on one pair, the way the conformance checks run it.

    Each explanation is made by a fresh instance built with ``{"seed": 0, **cls.fast_options,
    **options}`` on a copy of the pair; anything it raises (``SystemExit`` too) becomes an
    ``AssertionError`` naming the explainer. ``first`` is the first explanation, made once.
    Without ``pair`` and ``backbone`` it runs on :func:`demo_pair` with :func:`default_backbone`.

    Example:
        >>> from s2w_toolkit import Explainer
        >>> class Fails(Explainer):
        ...     name = "fails"
        ...     def explain(self, pair, backbone, attributes=None):
        ...         raise RuntimeError("no idea")
        >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
        >>> net = tiny_backbone()
        >>> ExplainerRun(Fails, pair_from_faces(net, *random_faces(2, 16)), net).first
        Traceback (most recent call last):
        ...
        AssertionError: explainer 'fails' raised in explain: PluginError: explainer 'fails' failed: RuntimeError: no idea
    """

    def __init__(self, cls: type[Explainer], pair: Pair | None = None, backbone: Any = None,
                 options: dict[str, Any] | None = None, attributes: Any = None) -> None:
        if (pair is None) != (backbone is None):
            raise ValueError("give both pair and backbone, or neither (the demo pair and default backbone)")
        self.cls = cls
        self.name = getattr(cls, "name", "") or cls.__name__
        self.backbone = backbone if backbone is not None else default_backbone()
        self.pair = pair if pair is not None else demo_pair(self.backbone)
        self.options = {"seed": 0, **getattr(cls, "fast_options", {}), **(options or {})}
        self.attributes = attributes
        self._first: Explanation | None = None

    def build(self, **extra: Any) -> Explainer:
        """A fresh instance with the run's options and ``extra``."""
        options = {**self.options, **extra}
        try:
            return self.cls(**options)
        except (Exception, SystemExit) as exc:
            raise AssertionError(f"explainer {self.name!r} rejected the options {options}: "
                                 f"{type(exc).__name__}: {exc}") from exc

    def explain(self, pair: Pair | None = None, **extra: Any) -> Explanation:
        """Explain ``pair`` (default: the run's), on a copy of it, with ``extra`` options."""
        explainer = self.build(**extra)
        try:
            return explainer(copy_pair(pair if pair is not None else self.pair), self.backbone, self.attributes)
        except (Exception, SystemExit) as exc:
            raise AssertionError(f"explainer {self.name!r} raised in explain: {type(exc).__name__}: {exc}") from exc

    @property
    def first(self) -> Explanation:
        """The explanation of the run's pair with the run's options (made on first use)."""
        if self._first is None:
            self._first = self.explain()
        return self._first
