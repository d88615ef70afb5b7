"""The registry's guards: a plugin cannot take a built-in's name, and a misspelt hook is reported."""

import types
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from s2w_toolkit import Explainer, Explanation, hookimpl
from s2w_toolkit.errors import PluginError
from s2w_toolkit.registry import PluginWarning, Registry, build_plugin_manager


class EntryPoint:
    """An installed distribution's ``s2w`` entry point, without installing anything."""

    def __init__(self, name, module, dist):
        self.name, self.module, self.dist = name, module, SimpleNamespace(name=dist, version="9.9")

    def load(self):
        return self.module


def explainer(name):
    class Impostor(Explainer):
        def explain(self, pair, backbone, attributes=None):
            return Explanation(score=0.0, maps={"a": np.ones((2, 2)), "b": np.ones((2, 2))})

    Impostor.name = name
    return Impostor


class Backbone:
    name = "dlib-resnet"


def plugin(name, explainers=(), backbones=(), **extra_hooks):
    module = types.ModuleType(name)
    module.s2w_register_explainers = hookimpl(lambda: list(explainers))
    module.s2w_register_backbones = hookimpl(lambda: list(backbones))
    for hook, function in extra_hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def registry(*plugins, builtins_last=False):
    eps = [EntryPoint(m.__name__, m, f"dist-of-{m.__name__}") for m in plugins]
    pm, dists = build_plugin_manager(entry_points=lambda: eps)
    if builtins_last:  # register the built-ins after the plugins: order must not matter
        builtin = pm.unregister(name="builtins")
        pm.register(builtin, name="builtins")
    return Registry(pm, dists)


def messages(record):
    return [str(w.message) for w in record if issubclass(w.category, PluginWarning)]


@pytest.mark.parametrize("builtins_last", [False, True])
def test_a_plugin_cannot_take_a_builtin_name(builtins_last):
    impostor = plugin("impostor", explainers=[explainer("sim2word"), explainer("own-name")], backbones=[Backbone])
    with pytest.warns(PluginWarning) as record:
        reg = registry(impostor, builtins_last=builtins_last)
    shadow = [m for m in messages(record) if "a built-in name" in m]
    assert len(shadow) == 2 and all("'impostor' (dist-of-impostor 9.9)" in m for m in shadow)
    assert any("explainer 'sim2word'" in m for m in shadow) and any("backbone 'dlib-resnet'" in m for m in shadow)
    for kind, name in (("explainer", "sim2word"), ("backbone", "dlib-resnet")):
        assert reg.entries[kind][name].plugin == "builtins"
    assert reg.explainer("sim2word").__module__ == "s2w_toolkit.sim2word.explainer"
    assert reg.explainer("own-name").name == "own-name"  # the rest of the plugin keeps working


def test_two_plugins_and_a_builtin_with_one_name_keep_the_builtin():
    one, two = plugin("one", explainers=[explainer("sim2word")]), plugin("two", explainers=[explainer("sim2word")])
    with pytest.warns(PluginWarning) as record:
        reg = registry(one, two, builtins_last=True)
    assert sum("a built-in name" in m for m in messages(record)) == 2
    assert reg.entries["explainer"]["sim2word"].plugin == "builtins" and not reg.conflicts


def test_two_plugins_with_one_name_stay_an_error_for_that_name_only():
    one = plugin("one", explainers=[explainer("twin"), explainer("solo")])
    two = plugin("two", explainers=[explainer("twin")])
    with pytest.warns(PluginWarning, match="dist-of-one 9.9 .*dist-of-two 9.9"):
        reg = registry(one, two)
    with pytest.raises(PluginError, match="claimed by both"):
        reg.explainer("twin")
    assert reg.explainer("solo").name == "solo" and reg.explainer("sim2word").name == "sim2word"


def test_a_misspelt_hook_is_reported_with_the_closest_name():
    typo = plugin("typo", explainers=[explainer("kept")], s2w_register_explainer=lambda: [explainer("lost")])
    with pytest.warns(PluginWarning) as record:
        reg = registry(typo)
    [message] = [m for m in messages(record) if "unknown hook" in m]
    assert "plugin 'typo' (dist-of-typo 9.9)" in message
    assert "unknown hook 's2w_register_explainer'" in message and "did you mean 's2w_register_explainers'" in message
    assert "kept" in reg.names("explainer") and "lost" not in reg.names("explainer")


def test_known_and_optional_hooks_give_no_warning():
    optional = types.ModuleType("optional")
    optional.s2w_future_hook = hookimpl(optionalhook=True)(lambda: [])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        reg = registry(plugin("fine", explainers=[explainer("fine-one")]), optional)
    assert "fine-one" in reg.names("explainer")
