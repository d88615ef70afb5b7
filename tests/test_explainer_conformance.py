"""The conformance suite (:mod:`s2w_toolkit.testing`) on the project's own explainers: the built-ins
and the plugins under plugins/. Each explainer runs each check on its own, with its
``fast_options`` on real faces with the default backbone, so one that fails fails only its own
tests. Third-party plugins are not run here: their authors run ``s2w_toolkit.testing``."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import PROJECT_DISTRIBUTIONS
from s2w_toolkit import load_pair
from s2w_toolkit.registry import get_registry
from s2w_toolkit.testing import CHECKS, ExplainerRun, all_maps, check_explainer, explainer_names, use_plugins

NAMES = explainer_names(PROJECT_DISTRIBUTIONS)
BROKEN = Path(__file__).parent / "plugins" / "s2w-broken" / "s2w_broken_example.py"


@pytest.fixture(scope="module")
def pair(net, demo):
    return load_pair(demo["obama"], demo["biden"], net)


@pytest.fixture(scope="module")
def runs(pair, net):
    made = {}

    def run(name: str) -> ExplainerRun:
        if name not in made:  # one explainer at a time: a failing one cannot take the others down
            made[name] = ExplainerRun(get_registry().explainer(name), pair, net)
        return made[name]

    return run


def broken_module():
    spec = importlib.util.spec_from_file_location("broken_example_under_test", BROKEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_repository_plugins_are_covered(project_explainers):
    import tomllib

    plugins = Path(__file__).resolve().parents[1] / "plugins"
    folders = {tomllib.loads(p.read_text())["project"]["name"]: p.parent for p in plugins.glob("*/pyproject.toml")}
    assert set(PROJECT_DISTRIBUTIONS) == {"s2w-toolkit"} | set(folders)  # a new plugin folder must be listed
    by_package = {e.distribution for e in get_registry().all_entries()
                  if e.kind == "explainer" and e.name in NAMES}
    explaining = {name for name, folder in folders.items()  # the plugins that register explainers
                  if any("def s2w_register_explainers" in f.read_text() for f in folder.rglob("*.py")
                         if "build" not in f.parts)}
    assert explaining <= by_package, f"not installed, so not checked: {sorted(explaining - by_package)}"
    assert {"sim2word", "input-gradient"} <= set(NAMES) and NAMES == project_explainers
    assert not [n for n in NAMES if n.startswith("broken-")]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name", NAMES)
def test_conformance(name, check, runs):
    CHECKS[check](runs(name))


def test_third_party_explainers_are_left_to_their_authors():
    with use_plugins(broken_module()) as reg:
        everything, own = explainer_names(registry=reg), explainer_names(["s2w-toolkit"], registry=reg)
    assert "broken-nan" in everything and "broken-nan" not in own and "sim2word" in own


@pytest.mark.parametrize("name, problem", [
    ("broken-raises", r"raised in explain: .*RuntimeError: broken-raises always raises"),
    ("broken-nan", r"has 64 non-finite values"),
    ("broken-empty", r"map 'a' is empty|map 1 has shape \(0, 0\)"),
    ("broken-render", r"figure: explainer 'broken-render': render raised OSError: broken-render cannot draw"),
    ("broken-exit", r"sys\.exit\(3\)|SystemExit: 3"),
    ("broken-mutates", r"pair_unchanged: explainer 'broken-mutates': explain modified pair\.a in place"),
])
def test_the_conformance_suite_says_what_is_wrong(name, problem, pair, net):
    cls = next(c for c in broken_module().EXPLAINERS if c.name == name)
    with pytest.raises(AssertionError, match=rf"explainer '{name}'(.|\n)*(?:{problem})") as failed:
        check_explainer(cls, pair, net)
    assert "Traceback" not in str(failed.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name, runs, demo):
    from s2w_toolkit import load_backbone

    gpu = load_backbone("dlib-resnet", device="cuda")
    run = ExplainerRun(get_registry().explainer(name), load_pair(demo["obama"], demo["biden"], gpu), gpu)
    e = run.explain()
    assert e.metadata["device"].startswith("cuda"), name
    for a, b in zip(all_maps(runs(name).first), all_maps(e)):
        np.testing.assert_allclose(a, b, atol=1e-3, err_msg=name)


def test_compare_figure_has_a_row_per_explainer(run_cli, demo, tmp_path):
    from skimage.io import imread

    third = next((n for n in NAMES if n not in ("sim2word", "input-gradient")), None)
    if third is None:
        pytest.skip("needs a third registered explainer (the README's test command installs the plugins)")
    heights = []
    for names in (["sim2word", "input-gradient"], ["sim2word", "input-gradient", third]):
        out = tmp_path / str(len(names))
        args = [arg for name in names for arg in ("-e", name)]
        result = run_cli("explain", *args, demo["obama"], demo["biden"], "--out", out,  # Sim2Word's fast options
                         *[f"-o{k}={v}" for k, v in get_registry().explainer("sim2word").fast_options.items()])
        assert result.exit_code == 0, result.output
        heights.append(imread(out / "compare.png").shape[0])
    single = run_cli("explain", "-e", "input-gradient", demo["obama"], demo["biden"], "--out", tmp_path / "one")
    assert single.exit_code == 0 and not (tmp_path / "one" / "compare.png").exists()
    assert heights[1] > 1.3 * heights[0]  # one row more per explainer
