"""The plugin manager: built-ins and entry-point plugins, one registry of named classes.

Plugins come from the entry-point group ``s2w``; built-ins are registered through the same
pluggy manager. ``S2W_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name and
``S2W_TRACE_PLUGINS=1`` traces every hook call on stderr. A plugin that fails to import, or
whose hook raises, is reported as a warning naming it; every other plugin keeps working. So is
a plugin that implements a hook no spec declares (a misspelt name), and one that registers a
built-in's name: the built-in keeps it.

Example:
    >>> reg = get_registry()
    >>> "dlib-resnet" in reg.names("backbone")
    True
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import PluginError
from .lazy import ClassRef

ENTRY_POINT_GROUP = "s2w"
BUILTIN_PLUGIN = "s2w_toolkit.builtin_plugins"
BUILTINS = "builtins"  # the plugin name the built-ins are registered under
KINDS = {
    "backbone": "s2w_register_backbones",
    "attribute-model": "s2w_register_attribute_models",
    "explainer": "s2w_register_explainers",
    "metric": "s2w_register_metrics",
}


class PluginWarning(UserWarning):
    """A plugin failed to load or raised; it is skipped.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _warn("plugin 'x' failed to load: ImportError: no module; skipped")
        >>> caught[0].category.__name__
        'PluginWarning'
    """


@dataclass
class Entry:
    """One registered class: its kind, name, the plugin and distribution that provide it.

    Example:
        >>> entry = get_registry().entries["explainer"]["input-gradient"]
        >>> entry.plugin, entry.load().__name__
        ('builtins', 'InputGradientExplainer')
    """

    kind: str
    name: str
    target: Any  # a class or a ClassRef
    plugin: str
    distribution: str
    version: str

    def details(self) -> dict[str, str]:
        """Short labels for listings: a backbone's input and embedding size. Taken from the
        reference when it carries them, else from the class's ``summary()``; never raises."""
        if isinstance(self.target, ClassRef) and self.target.details:
            return dict(self.target.details)
        if self.kind != "backbone":
            return {}
        try:
            return dict(self.load().summary())
        except Exception:
            return {"input": "?", "embedding": "?"}

    def load(self) -> type:
        """The registered class (imported now if it was registered by reference)."""
        try:
            return self.target.load() if isinstance(self.target, ClassRef) else self.target
        except Exception as exc:  # a plugin's import error must not escape as a traceback
            raise PluginError(f"{self.kind} {self.name!r} from {self.distribution} failed to load: {exc}") from exc


def _trace(message: str) -> None:
    if os.environ.get("S2W_TRACE_PLUGINS"):
        print(f"s2w-trace: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=3)


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get("S2W_DISABLE_PLUGINS", "").split(",") if n.strip()}


def _own_distribution() -> tuple[str, str]:
    try:
        return "s2w-toolkit", metadata.version("s2w-toolkit")
    except metadata.PackageNotFoundError:
        return "s2w-toolkit", "0+unknown"


class Registry:
    """Every backbone, attribute model, explainer and benchmark metric that the installed plugins provide.

    Example:
        >>> registry = get_registry()
        >>> "dlib-resnet" in registry.names("backbone"), registry.explainer("sim2word").__name__
        (True, 'Sim2WordExplainer')
    """

    def __init__(self, pm: pluggy.PluginManager, dists: dict[str, tuple[str, str]]) -> None:
        self.pm = pm
        self.dists = dists
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.conflicts: dict[tuple[str, str], list[Entry]] = {}
        self._check_hook_names()
        for kind, hook in KINDS.items():
            for plugin, result in self.call(hook):
                self._add(kind, plugin, result)

    def _check_hook_names(self) -> None:
        """Warn about each hook implementation that no spec declares: pluggy never calls it."""
        known = sorted(name for name, caller in vars(self.pm.hook).items() if caller.has_spec())
        for plugin_name, plugin in self.pm.list_name_plugin():
            for caller in (self.pm.get_hookcallers(plugin) or []) if plugin is not None else []:
                if caller.has_spec() or all(i.optionalhook for i in caller.get_hookimpls()):
                    continue
                dist, version = self.dists.get(plugin_name, (plugin_name, "?"))
                closest = difflib.get_close_matches(caller.name, known, n=1, cutoff=0)
                hint = f"; did you mean {closest[0]!r}?" if closest else ""
                _warn(f"plugin {plugin_name!r} ({dist} {version}) implements unknown hook {caller.name!r}, "
                      f"which is never called{hint}")

    def call(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call each plugin's implementation of ``hook`` separately; one that raises is warned
        about and skipped."""
        results = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            _trace(f"{hook}() -> plugin {impl.plugin_name}")
            try:
                result = impl.function(**args)
            except Exception as exc:
                _warn(f"plugin {impl.plugin_name!r} raised in {hook}: {type(exc).__name__}: {exc}; skipped")
                continue
            _trace(f"{hook}() <- plugin {impl.plugin_name}: {result!r}")
            results.append((impl.plugin_name, result))
        return results

    def _add(self, kind: str, plugin: str, result: Any) -> None:
        dist, version = self.dists.get(plugin, (plugin, "?"))
        for target in result or []:
            name = getattr(target, "name", "")
            if not isinstance(name, str) or not name:
                _warn(f"plugin {plugin!r} registered a {kind} without a name ({target!r}); skipped")
                continue
            entry = Entry(kind, name, target, plugin, dist, version)
            known = self.entries[kind].get(name)
            if plugin == BUILTINS or (known is not None and known.plugin == BUILTINS):
                builtin, other = (entry, known) if plugin == BUILTINS else (known, entry)
                self._keep_builtin(builtin, other)
                continue
            if known is not None or (kind, name) in self.conflicts:
                clash = self.conflicts.setdefault((kind, name), [known] if known else [])
                clash.append(entry)
                self.entries[kind].pop(name, None)
                _warn(self._conflict_message(kind, name))
                continue
            self.entries[kind][name] = entry

    def _keep_builtin(self, builtin: Entry, other: Entry | None) -> None:
        """A built-in keeps its name; every plugin entry that claims it is warned about and dropped."""
        kind, name = builtin.kind, builtin.name
        claims = [other, *self.conflicts.pop((kind, name), [])]
        shadowed = [e for e in claims if e is not None and e.plugin != BUILTINS]
        for e in shadowed:
            _warn(f"plugin {e.plugin!r} ({e.distribution} {e.version}) registers {kind} {name!r}, "
                  f"a built-in name; the built-in is kept and the plugin's {kind} is ignored")
        self.entries[kind][name] = builtin

    def _conflict_message(self, kind: str, name: str) -> str:
        owners = " and ".join(f"{e.distribution} {e.version} (plugin {e.plugin})" for e in self.conflicts[(kind, name)])
        return f"{kind} name {name!r} is claimed by both {owners}"

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def all_entries(self) -> list[Entry]:
        return [e for kind in KINDS for e in sorted(self.entries[kind].values(), key=lambda e: e.name)]

    def get(self, kind: str, name: str) -> type:
        """The class registered as ``name``; a one-line :class:`PluginError` if unknown."""
        if (kind, name) in self.conflicts:
            raise PluginError(self._conflict_message(kind, name))
        entry = self.entries[kind].get(name)
        if entry is None:
            known = ", ".join(self.names(kind)) or "none"
            raise PluginError(f"unknown {kind} {name!r}; known: {known}")
        return entry.load()

    def backbone(self, name: str) -> type:
        return self.get("backbone", name)

    def explainer(self, name: str) -> type:
        return self.get("explainer", name)

    def attribute_model(self, name: str) -> type:
        return self.get("attribute-model", name)

    def metric(self, name: str) -> type:
        return self.get("metric", name)


def build_plugin_manager(
    entry_points: Callable[[], list] | None = None,
) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    """A manager with the built-ins and every installed ``s2w`` entry point registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("S2W_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(f"s2w-trace: {msg}", end="", file=sys.stderr))
        pm.enable_tracing()
    dists: dict[str, tuple[str, str]] = {}
    blocked = _disabled()
    for name in sorted(blocked):
        pm.set_blocked(name)
    if BUILTINS not in blocked:
        pm.register(importlib.import_module(BUILTIN_PLUGIN), name=BUILTINS)
        dists[BUILTINS] = _own_distribution()
    eps = entry_points() if entry_points else metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in eps:
        if ep.name in blocked:
            _trace(f"plugin {ep.name} blocked by S2W_DISABLE_PLUGINS")
            continue
        dist = (ep.dist.name, ep.dist.version) if ep.dist else (ep.name, "?")
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            _warn(f"plugin {ep.name!r} ({dist[0]} {dist[1]}) failed to load: {type(exc).__name__}: {exc}; skipped")
            continue
        dists[ep.name] = dist
        _trace(f"plugin {ep.name} loaded from {dist[0]} {dist[1]}")
    return pm, dists


_current: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry (built on first use)."""
    global _current
    if _current is None:
        _current = Registry(*build_plugin_manager())
    return _current


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry; ``None`` rebuilds it from the installed plugins on
    next use (e.g. after installing a plugin, or in tests)."""
    global _current
    _current = registry
