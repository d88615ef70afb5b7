"""Typed, strict explainer options: conversion by field type, unknown keys and bad values
rejected, keys routed to the explainers that declare them, and ``s2w plugins NAME``."""

import json
from dataclasses import dataclass

import pytest

from s2w_toolkit.errors import OptionError, S2WError
from s2w_toolkit.explainers.input_gradient import InputGradientExplainer
from s2w_toolkit.interfaces import Explainer
from s2w_toolkit.options import BaseOptions, option_specs, route_options
from s2w_toolkit.registry import get_registry
from s2w_toolkit.sim2word.core import Settings
from s2w_toolkit.sim2word.explainer import Sim2WordExplainer, settings_from_options

gradcam = pytest.importorskip("s2w_gradcam.explainer", reason="install ./plugins/s2w-gradcam (README test command)")
xcos = pytest.importorskip("s2w_xcos.explainer", reason="install ./plugins/s2w-xcos (README test command)")
rise = pytest.importorskip("s2w_perturb.rise", reason="install ./plugins/s2w-perturb (README test command)")
avsl = pytest.importorskip("s2w_avsl.explainer", reason="install ./plugins/s2w-avsl (README test command)")


def test_text_is_converted_by_field_type():
    s = Sim2WordExplainer(top_k="2", erase_threshold="0.5", fill="BLUR", ablation="no-attributes",
                 attributes="age-gender, face-parts", attribute_weights="w.pt", **{"batch-size": "8"}).options
    assert (s.top_k, s.erase_threshold, s.fill, s.ablation, s.batch_size) == (2, 0.5, "blur", "no-attributes", 8)
    assert s.attributes == ("age-gender", "face-parts") and s.attribute_weights == "w.pt"
    assert Sim2WordExplainer(ablation="none", attribute_weights="").options.ablation is None  # optional: none / empty
    assert Sim2WordExplainer(ablation="none", attribute_weights="").options.attribute_weights is None
    assert [rise.RISEExplainer(center=text).options.center for text in ("off", "yes", "0", "True")] == [False, True, False, True]
    assert gradcam.GradCAMExplainer(method="Occlusion", window="20").options.window == 20
    assert avsl.AVSLExplainer(levels="units.6,units.9").options.levels == ("units.6", "units.9")
    # already-typed values pass as they are
    assert Sim2WordExplainer(top_k=3, erase_threshold=1, attributes=["age-gender"]).options.attributes == ("age-gender",)
    assert isinstance(Sim2WordExplainer(erase_threshold=1).options.erase_threshold, float)


def test_defaults_are_the_algorithms_defaults():
    assert Sim2WordExplainer().settings == Settings() and settings_from_options({}) == Settings()
    assert settings_from_options({"top-k": "2", "fill": "mean"}) == Settings(top_k=2, fill="mean")
    assert rise.RISEExplainer().settings == {"samples": 500, "cells": 7, "p": 0.5, "seed": 0, "batch_size": 64, "center": True,
                                    "fill": "black"}


def test_an_unknown_key_is_rejected_naming_the_valid_ones():
    with pytest.raises(OptionError) as info:
        Sim2WordExplainer(erase_treshold="0.5")
    message = str(info.value)
    assert message.startswith("explainer 'sim2word' has no option 'erase_treshold' (did you mean 'erase_threshold'?)")
    assert "its options: ablation, attribute_weights, attributes, batch_size, control_overlap, counterfactual, dilate, erase, erase_threshold" \
        in message
    assert "\n" not in message and isinstance(info.value, S2WError)
    with pytest.raises(OptionError, match="'input-gradient' has no option 'window'; its options: batch_size, seed$"):
        InputGradientExplainer(window="20")
    with pytest.raises(OptionError, match="'sim2word' has no option 'bogus'"):
        settings_from_options({"bogus": "1"})  # group mode's entry point is strict too


@pytest.mark.parametrize("cls, key, value, expected", [
    (Sim2WordExplainer, "top_k", "two", "wants int, got 'two'"),
    (Sim2WordExplainer, "erase_threshold", "high", "wants float, got 'high'"),
    (Sim2WordExplainer, "fill", "sparkle", "wants one of: black, mean, noise, blur, road, got 'sparkle'"),
    (Sim2WordExplainer, "ablation", "all", "wants one of: no-attributes, no-counterfactual, none, got 'all'"),
    (rise.RISEExplainer, "center", "maybe", "wants bool, got 'maybe'"),
    (gradcam.GradCAMExplainer, "window", "1.5", "wants int, got '1.5'"),
    (gradcam.GradCAMExplainer, "steps", "0", "must be at least 1, got '0'"),
])
def test_a_bad_value_is_rejected_naming_the_type(cls, key, value, expected):
    with pytest.raises(OptionError) as info:
        cls(**{key: value})
    assert str(info.value) == f"explainer {cls.name!r}: option {key!r} {expected}"


def test_a_check_of_the_dataclass_becomes_an_option_error():
    with pytest.raises(OptionError, match=r"^explainer 'rise': p \(the keep probability\) must be in \(0, 1\]"):
        rise.RISEExplainer(p="1.5")
    with pytest.raises(OptionError, match="^explainer 'xcos': attention=uniform conflicts with xcos_head=h.pt"):
        xcos.XCosExplainer(attention="uniform", head="h.pt")


def test_keys_go_to_the_explainers_that_declare_them():
    classes = {"gradcam": gradcam.GradCAMExplainer, "xcos": xcos.XCosExplainer}
    routed = route_options(classes, {"window": "20", "batch-size": "8", "attention": "uniform"})
    assert routed == {"gradcam": {"window": 20, "batch_size": 8}, "xcos": {"batch_size": 8, "attention": "uniform"}}
    assert gradcam.GradCAMExplainer(**routed["gradcam"]).options.window == 20 and xcos.XCosExplainer(**routed["xcos"]).settings["batch_size"] == 8
    # the single-method explainers declare only what their method uses
    only = route_options({"gradcam++": gradcam.GradCAMPlusPlusExplainer, "occlusion": gradcam.OcclusionExplainer},
                         {"stride": "4"})
    assert only == {"gradcam++": {}, "occlusion": {"stride": 4}}
    with pytest.raises(OptionError, match="explainer 'occlusion': option 'stride' wants int"):
        route_options({"occlusion": gradcam.OcclusionExplainer}, {"stride": "x"})


def test_a_key_no_selected_explainer_declares_is_rejected():
    classes = {"sim2word": Sim2WordExplainer, "gradcam": gradcam.GradCAMExplainer}
    with pytest.raises(OptionError) as info:
        route_options(classes, {"face_indx": "1"})
    assert str(info.value).startswith("unknown option 'face_indx' for the selected explainers (sim2word, gradcam); "
                                      "valid: ablation, attribute_weights, attributes, batch_size")
    assert "method" in str(info.value) and "window" in str(info.value)
    with pytest.raises(OptionError, match=r"unknown option 'windw' .*\(did you mean 'window'\?\)"):
        route_options(classes, {"windw": "3"})
    with pytest.raises(OptionError, match="unknown option 'window' for the selected explainers \\(xcos\\)"):
        route_options({"xcos": xcos.XCosExplainer}, {"window": "20"})


def test_every_explainer_declares_batch_size_and_seed():
    reg = get_registry()
    for name in reg.names("explainer"):
        cls = reg.explainer(name)
        specs = {s.name: s for s in option_specs(cls)}
        assert (specs["batch_size"].type, specs["batch_size"].default) == ("int", 64), name
        assert (specs["seed"].type, specs["seed"].default) == ("int", 0), name
        cls(**{"seed": "0", "batch_size": "4", **cls.fast_options})  # fast_options are accepted options


def test_options_must_be_a_base_options_dataclass():
    with pytest.raises(TypeError, match="Options must be a dataclass subclassing"):
        class Loose(Explainer):  # noqa: F841
            Options = dict

    @dataclass(frozen=True)
    class Sized(BaseOptions):
        size: int = 3

    class Tidy(Explainer):
        name = "tidy"
        Options = Sized

        def explain(self, pair, backbone, attributes=None):
            raise NotImplementedError

    assert Tidy(size="5").options == Sized(size=5)


def test_plugins_name_lists_the_options(run_cli):
    result = run_cli("plugins", "sim2word")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines()
               if line.split()[:1] == ["erase_threshold"] and len(line.split()) > 2)  # not a wrapped help line
    assert row.split()[1:3] == ["float", "0.6"]
    rows = json.loads(run_cli("plugins", "rise", "--json").stdout)
    assert {"name": "center", "type": "bool", "default": True,
            "help": "subtract the mean masked score (false: plain RISE)"} in rows
    bad = run_cli("plugins", "sim2wrd")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "unknown explainer 'sim2wrd'" in bad.stderr
