"""The short path (`s2w_toolkit.explain`), explainers called the complete way, and figures as
objects: the same explanation and the same picture as `s2w explain`, the backend left alone."""

import io
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import s2w_toolkit as s2w
from s2w_toolkit import Explainer, Explanation
from s2w_toolkit.errors import OptionError, PluginError, S2WError
from s2w_toolkit.explainers.input_gradient import InputGradientExplainer
from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone

#: Sim2Word made quick (few placements, no perturbed copies): the path is the point, not the words.
QUICK = {"placements": 4, "stability": 0}


def test_the_short_path_is_what_s2w_explain_writes_and_shows_the_same_picture(run_cli, tmp_path, demo):
    result = run_cli("explain", demo["obama"], demo["obama2"], "--out", tmp_path, "--device", "cpu", "--details",
                     *[f"-o{k}={v}" for k, v in QUICK.items()])
    assert result.exit_code == 0, result.stderr
    details = np.asarray(Image.open(tmp_path / "sim2word-details.png"))  # the diagnostic figure, on request
    assert details.shape[1] > 1500 and details.std() > 10
    written = Explanation.load(tmp_path / "sim2word.json")
    assert written.metadata["case"] == "mate" and (tmp_path / "sim2word.png").stat().st_size > 20_000
    assert ("ranked words" in result.stdout) == bool(written.words)  # the words' table, or the caption
    assert " ".join(result.stdout.split()).find(written.metadata["caption"][:60]) >= 0
    e = s2w.explain(demo["obama"], demo["obama2"], explainer="sim2word", device="cpu", **QUICK)
    assert (e.explainer, e.backbone, e.threshold) == ("sim2word", "dlib-resnet", pytest.approx(written.threshold))
    assert e.metadata["seconds"] > 0 and e.metadata["sources"] == {"a": demo["obama"], "b": demo["obama2"]}
    assert e.score == pytest.approx(written.score, abs=1e-6)
    for name, maps in [("maps", e.maps), *e.extra_maps.items()]:
        other = written.maps if name == "maps" else written.extra_maps[name]
        for side in ("a", "b"):
            np.testing.assert_allclose(maps[side], other[side], atol=1e-6, err_msg=f"{name} {side}")
    assert [w.text for w in e.words or []] == [w.text for w in written.words or []]
    shown = np.asarray(Image.open(io.BytesIO(e._repr_png_())))
    np.testing.assert_array_equal(shown, np.asarray(Image.open(tmp_path / "sim2word.png")))
    assert shown.shape[1] == 900  # README width
    assert e.figure(details=True).get_size_inches()[0] > 15
    (tmp_path / "again").mkdir()
    e.save(tmp_path / "again" / "pair.json")
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["pair.json", "pair.npz", "pair.png"]


def test_calling_an_explainer_fills_in_what_explain_alone_leaves_empty():
    net, faces = tiny_backbone(size=16), random_faces(2, 16)
    pair = pair_from_faces(net, *faces)
    bare = InputGradientExplainer().explain(pair, net)
    assert (bare.backbone, bare.threshold, bare.faces) == ("", None, None)
    with pytest.raises(S2WError, match="no faces to draw on"):
        bare.figure()
    called = InputGradientExplainer()(pair, net)
    assert called.backbone == net.name and called.threshold == net.threshold
    assert {"seconds", "device", "sources"} <= set(called.metadata)
    assert called.faces[0] is pair.image_a
    np.testing.assert_allclose(called.maps["a"], bare.maps["a"], atol=1e-6)
    assert called.figure().get_axes()  # a Figure object, drawn on the attached faces
    import pickle

    copied = pickle.loads(pickle.dumps(called))  # as the benchmark's worker processes send it
    assert copied.faces is not None and copied._drawer is None and copied.figure().get_axes()


def test_tensors_and_any_module(tmp_path):
    class Net(nn.Module):  # any module that maps (N, 3, H, W) to (N, D)
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.head = nn.Linear(8 * 4 * 4, 16)

        def forward(self, x):
            return self.head(nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 4).flatten(1))

    module = Net()
    faces = random_faces(2, 32, seed=3)
    wrapped = s2w.wrap_module(module, input_size=(32, 32))
    x = wrapped.preprocess(faces)
    from_tensors = s2w.explain(x[0], x[1:], explainer="input-gradient", backbone=module)
    from_faces = s2w.explain(faces[0], faces[1], explainer="input-gradient", backbone=wrapped)
    assert from_tensors.backbone == "custom" and from_tensors.maps["a"].shape == (32, 32)
    np.testing.assert_allclose(from_tensors.maps["a"], from_faces.maps["a"], atol=1e-6)
    assert from_tensors.score == pytest.approx(from_faces.score, abs=1e-6)
    np.testing.assert_array_equal(from_tensors.faces[0], faces[0])  # the picture is the face the tensor shows
    with pytest.raises(S2WError, match=r"tensor must be \(1, 3, H, W\)"):
        s2w.explain(x, x, explainer="input-gradient", backbone=module)


class _Fails(Explainer):
    name = "fails"

    def explain(self, pair, backbone, attributes=None):
        raise RuntimeError("broken on purpose")


def test_several_explainers_a_failing_one_is_left_out_and_bad_options_are_refused():
    net, faces = tiny_backbone(size=16), random_faces(2, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = s2w.explain(faces[0], faces[1], explainer=["input-gradient", _Fails()], backbone=net, seed=1)
    assert list(results) == ["input-gradient"] and results["input-gradient"].backbone == net.name
    assert any("fails" in str(w.message) and "broken on purpose" in str(w.message) for w in caught)
    with pytest.raises(PluginError, match="broken on purpose"):
        s2w.explain(faces[0], faces[1], explainer=_Fails(), backbone=net)
    with pytest.raises(OptionError, match="unknown option 'placement'"):
        s2w.explain(faces[0], faces[1], explainer="input-gradient", backbone=net, placement=3)
    with pytest.raises(S2WError, match="no-such-explainer"):
        s2w.explain(faces[0], faces[1], explainer="no-such-explainer", backbone=net)


DRAW_EVERY_FIGURE = textwrap.dedent("""
    import sys, tempfile, numpy as np
    from pathlib import Path
    import s2w_toolkit as s2w
    from s2w_toolkit.explainers.explanation import Explanation, Word
    from s2w_toolkit.render import explanation_figure, comparison_figure, render_attributes
    from s2w_toolkit.sim2word.figure import sim2word_figure, render_group
    from s2w_toolkit.bench.roc import write_roc
    from s2w_toolkit.report.charts import distribution_chart
    import matplotlib
    m = {"a": np.eye(8), "b": np.eye(8)}
    e = Explanation(score=0.8, maps=m, words=[Word("Big Nose", 0.7, {"side": "a", "cosine": 0.8})],
                    extra_maps={"identity": m}, threshold=0.9, metadata={"caption": "demo"}, explainer="demo")
    face = np.zeros((8, 8, 3), np.uint8)
    out = Path(tempfile.mkdtemp())
    figures = [explanation_figure(e, face, face), sim2word_figure(e, face, face), comparison_figure([e, e], face, face)]
    render_attributes(face, [{"attribute": "Smiling", "word": "Smiling", "confidence": 0.9, "present": True}],
                      np.ones((1, 8, 8)), out / "attributes.png")
    render_group(face, [{"word": "Young", "attribute": "Young", "mean_angular": 0.6}],
                 {"identity": np.eye(8), "counterfactual": np.eye(8), "joint": {"Young": np.eye(8)}}, out / "g.png", "c")
    write_roc([0.9, 0.2, 0.8, 0.3], [True, False, True, False], 0.5, out / "roc.png")
    distribution_chart([0.9, 0.2, 0.8, 0.3], [True, False, True, False], 0.5)
    e.with_faces(face, face)._repr_png_()
    print(matplotlib.get_backend(), len(figures))
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt
        print("open figures", plt.get_fignums())
""")


def test_drawing_every_figure_leaves_the_matplotlib_backend_alone():
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", DRAW_EVERY_FIGURE], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "svg 3", done.stdout
    assert "open figures" not in done.stdout or "open figures []" in done.stdout


@pytest.mark.slow  # the default Sim2Word, twice, on the real network
def test_the_quickstart_python_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "quickstart.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 4 and "s2w.explain(" in blocks[0] and len(blocks[0].strip().splitlines()) <= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/quickstart.md", "exec"), namespace)  # verbatim, one session, like a notebook
    e = namespace["e"]
    assert isinstance(e, Explanation) and e.explainer == "sim2word" and e.backbone == "dlib-resnet"
    assert e.threshold is not None and e.metadata["seconds"] > 0 and e.same_person is False
    assert {p.name for p in tmp_path.iterdir()} >= {"obama-biden.json", "obama-biden.npz", "obama-biden.png",
                                                   "input-gradient.png"}
    assert set(namespace["both"]) == {"sim2word", "input-gradient"} and namespace["g"].backbone == "custom"


def test_arrays_are_found_and_aligned_like_photos_or_resized_when_aligned(net, demo):
    """A photo given as an array with ``aligned=False`` is the pair its path gives; an aligned
    face of another size is resized to the backbone's template, as ``--aligned`` does."""
    from s2w_toolkit.io.images import read_image

    photos = [read_image(demo[n]) for n in ("obama", "biden")]
    by_path = s2w.as_pair(demo["obama"], demo["biden"], net)
    by_array = s2w.as_pair(*photos, net, aligned=False)
    np.testing.assert_array_equal(by_array.image_a, by_path.image_a)
    assert torch.equal(by_array.b, by_path.b) and by_array.source_a == "image a"
    big = np.asarray(Image.fromarray(by_path.image_a).resize((300, 300)))
    resized = s2w.as_pair(big, by_path.image_b, net)
    assert resized.image_a.shape == (150, 150, 3) and np.abs(resized.image_a.astype(int) - by_path.image_a).mean() < 4
    with pytest.raises(S2WError, match="image a"):  # no face in a grey square: one line naming the side
        s2w.as_pair(np.full((200, 200, 3), 128, np.uint8), photos[1], net, aligned=False)
