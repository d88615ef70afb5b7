"""One conformance suite for every registered explainer: built-ins, the plugins of this repo,
and any third-party one that is installed. Registering an explainer is what puts it here.

Each explainer runs with its ``fast_options`` on real faces with the default backbone."""

import numpy as np
import pytest
import torch

from s2w_toolkit import load_pair
from s2w_toolkit.explanation import SIDES, Explanation
from s2w_toolkit.interfaces import Pair
from s2w_toolkit.pipeline import run_explainer
from s2w_toolkit.registry import get_registry

NAMES = get_registry().names("explainer")


@pytest.fixture(scope="module")
def pair(net, demo):
    return load_pair(demo["obama"], demo["biden"], net)


def _explain(name: str, pair, net, **extra) -> Explanation:
    cls = get_registry().explainer(name)
    options = {"seed": "0", **cls.fast_options, **extra}
    return run_explainer(cls(**options), pair, net)


def _maps(e: Explanation) -> list[np.ndarray]:
    return [e.maps[s] for s in SIDES] + [m[s] for m in e.extra_maps.values() for s in SIDES]


def _finite(e: Explanation) -> bool:
    scores = [e.score] + [w.score for w in e.words or []]
    return all(np.isfinite(scores)) and all(np.isfinite(m).all() for m in _maps(e))


@pytest.fixture(scope="module")
def first(pair, net):
    return {name: _explain(name, pair, net) for name in NAMES}


def test_the_repository_plugins_are_covered():
    assert {"sim2word", "input-gradient"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_maps_have_both_sides_and_are_finite(name, first):
    e = first[name]
    assert set(e.maps) == set(SIDES) and all(m.ndim == 2 and m.size > 0 for m in _maps(e))
    assert _finite(e)
    assert e.explainer == name and e.backbone == "dlib-resnet" and e.threshold is not None


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_a_seed(name, first, pair, net):
    again = _explain(name, pair, net)
    for a, b in zip(_maps(first[name]), _maps(again)):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_batch_size_does_not_change_the_result(name, first, pair, net):
    small = _explain(name, pair, net, batch_size=3)
    for a, b in zip(_maps(first[name]), _maps(small)):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_matches_cpu(first, demo):
    from s2w_toolkit import load_backbone

    gpu = load_backbone("dlib-resnet", device="cuda")
    gpu_pair = load_pair(demo["obama"], demo["biden"], gpu)
    for name in NAMES:
        e = _explain(name, gpu_pair, gpu)
        assert e.metadata["device"].startswith("cuda"), name
        for a, b in zip(_maps(first[name]), _maps(e)):
            np.testing.assert_allclose(a, b, atol=1e-3, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_constant_image_and_the_same_image_twice(name, pair, net):
    grey = np.full_like(pair.image_a, 128)
    constant = Pair(a=net.preprocess(grey), b=pair.b, image_a=grey, image_b=pair.image_b)
    assert _finite(_explain(name, constant, net))
    same = Pair(a=pair.a, b=pair.a.clone(), image_a=pair.image_a, image_b=pair.image_a)
    e = _explain(name, same, net)
    assert _finite(e) and e.score == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip(name, first):
    e = first[name]
    back = Explanation.from_json(e.to_json())
    assert back.score == e.score and back.explainer == name and back.words == e.words
    for a, b in zip(_maps(e), _maps(back)):
        np.testing.assert_allclose(a, b, atol=5e-6)


@pytest.mark.parametrize("name", NAMES)
def test_figure_is_written(name, first, pair, tmp_path):
    explainer = get_registry().explainer(name)()
    path = explainer.render(first[name], pair.image_a, pair.image_b, tmp_path / f"{name}.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_compare_figure_has_a_row_per_explainer(run_cli, demo, tmp_path):
    from skimage.io import imread

    third = next((n for n in NAMES if n not in ("sim2word", "input-gradient")), None)
    if third is None:
        pytest.skip("needs a third registered explainer (the README's test command installs the plugins)")
    heights = []
    for names in (["sim2word", "input-gradient"], ["sim2word", "input-gradient", third]):
        out = tmp_path / str(len(names))
        args = [arg for name in names for arg in ("-e", name)]
        result = run_cli("explain", *args, demo["obama"], demo["biden"], "--out", out)
        assert result.exit_code == 0, result.output
        heights.append(imread(out / "compare.png").shape[0])
    single = run_cli("explain", "-e", "input-gradient", demo["obama"], demo["biden"], "--out", tmp_path / "one")
    assert single.exit_code == 0 and not (tmp_path / "one" / "compare.png").exists()
    assert heights[1] > 1.3 * heights[0]  # one row more per explainer
