"""The benchmark protocol: per-pair-type summaries checked by hand, the controls, and a synthetic
model where only one region of the face matters, so the right answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from s2w_toolkit import Explainer, Explanation, hookimpl
from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.runner import run_benchmark
from s2w_toolkit.bench.stats import mean_ci
from s2w_toolkit.bench.summary import summarise
from s2w_toolkit.testing import use_plugins

SIZE = 32
CORNER = 12  # the model reads only the top-left CORNER x CORNER pixels


def _row(key, explainer, same, a, b, role="explainer", evidence="similarity"):
    """A result row whose deletion metric says ``a`` and ``b`` for the two sides."""
    side = {"deletion_auc": 0.0, "insertion_auc": 0.0, "scattered_deletion_auc": 0.0, "scattered_insertion_auc": 0.0,
            "deletion_curve": [0.0, 0.0], "insertion_curve": [0.0, 0.0]}
    return {"key": key, "a": key, "b": key, "same": same, "fold": None, "explainer": explainer, "options": {},
            "role": role, "evidence": evidence, "similarity": 0.5, "threshold": 0.5, "seconds": 1.0,
            "forward_passes": 1,
            "settings": {"seed": 0, "metrics": ["deletion"], "fill": "road"},
            "metrics": {"deletion": {"a": {**side, "deletion_auc": a}, "b": {**side, "deletion_auc": b}}}}


def test_the_split_by_pair_type_and_side_matches_a_hand_computation(tmp_path):
    x = {"m1": (0.10, 0.30), "m2": (0.20, 0.20), "m3": (0.40, 0.00), "n1": (0.50, 0.70), "n2": (0.90, 0.50)}
    ctl = {"m1": (0.50, 0.50), "m2": (0.60, 0.40), "m3": (0.30, 0.50), "n1": (0.50, 0.50), "n2": (0.50, 0.50)}
    copies = 3  # each pair three times: the same means, and MIN_PAIRS_FOR_CLAIM (6) non-mates for the claims
    rows = [_row(f"{k}.{i}", "x", k.startswith("m"), *v) for k, v in x.items() for i in range(copies)]
    rows += [_row(f"{k}.{i}", c, k.startswith("m"), *v, role="control") for k, v in ctl.items()
             for c in ("random", "centre") for i in range(copies)]
    rows += [_row("n3", "x", False, 0.0, 0.0) | {"error": "boom", "stage": "explain"}]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarise(tmp_path)["explainers"]
    mine = summary["x"]
    assert (mine["pairs"], mine["failed"]) == (5 * copies, 1)
    cells = mine["results"]
    assert cells["mate"]["a"]["deletion_auc"]["mean"] == pytest.approx((0.1 + 0.2 + 0.4) / 3)
    assert cells["mate"]["b"]["deletion_auc"]["mean"] == pytest.approx((0.3 + 0.2 + 0.0) / 3)
    assert cells["mate"]["both"]["deletion_auc"]["mean"] == pytest.approx(((0.2 + 0.2 + 0.2) / 3))
    assert cells["non-mate"]["both"]["deletion_auc"]["mean"] == pytest.approx((0.6 + 0.7) / 2)
    assert cells["mate"]["both"]["deletion_auc"]["n"] == 3 * copies  # pairs, not sides
    for kind in ("mate", "non-mate"):
        for side in ("a", "b", "both"):
            cell = cells[kind][side]["deletion_auc"]
            assert cell["low"] <= cell["mean"] <= cell["high"] and cell["better"] == "lower"
    # mates: x minus control per pair: 0.2-0.5, 0.2-0.5, 0.2-0.4 (both sides); below 0 in every resample
    versus = cells["mate"]["both"]["deletion_auc"]["versus"]
    assert versus["difference"] == pytest.approx((-0.3 - 0.3 - 0.2) / 3) and versus["beats"] is True
    assert versus["high"] < 0 and set(versus["controls"]) == {"random", "centre"}
    # non-mates: 0.6 - 0.5 and 0.7 - 0.5 are above 0: worse than the controls, so not beating them
    assert cells["non-mate"]["both"]["deletion_auc"]["versus"]["beats"] is False
    assert mine["beats_controls"]["mate"]["deletion_auc"] is True
    assert mine["beats_controls"]["non-mate"] == {"deletion_auc": False, "insertion_auc": False}  # ties do not beat
    assert "versus" not in summary["random"]["results"]["mate"]["both"]["deletion_auc"]  # controls are not judged
    # the interval is the percentile bootstrap over pairs, seeded
    values = [v for v in (0.1, 0.2, 0.4) for _ in range(copies)]
    assert cells["mate"]["a"]["deletion_auc"]["low"] == pytest.approx(mean_ci(values, seed=0)["low"])


def test_a_dissimilarity_map_is_judged_the_other_way(tmp_path):
    keys = "pqrstu"  # MIN_PAIRS_FOR_CLAIM pairs: fewer make no claim
    rows = [_row(k, "d", True, 0.9, 0.9, evidence="dissimilarity") for k in keys]
    rows += [_row(k, c, True, 0.5, 0.5, role="control") for k in keys for c in ("random", "centre")]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cell = summarise(tmp_path)["explainers"]["d"]["results"]["mate"]["both"]["deletion_auc"]
    assert cell["better"] == "higher" and cell["versus"]["beats"] is True  # removing it raised the similarity


class Corner(nn.Module):
    """Embedding = the top-left CORNER x CORNER pixels: nothing else matters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :CORNER, :CORNER].flatten(1)


class Truth(Explainer):
    """The map that is right for :class:`Corner`."""

    name = "truth"

    def explain(self, pair, backbone, attributes=None):
        truth = np.zeros((SIZE, SIZE))
        truth[:CORNER, :CORNER] = 1.0
        with torch.no_grad():
            score = float(backbone.similarity(pair.a, pair.b))
        return Explanation(score=score, maps={"a": truth, "b": truth}, explainer=self.name)


class _Plugin:
    @hookimpl
    def s2w_register_explainers(self):
        return [Truth]


def _smooth_face(rng: np.random.Generator) -> np.ndarray:
    """A face-sized smooth random image (the imputation can fill a small hole from its neighbours)."""
    coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, 6, 6)))
    face = torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=False)
    return np.clip(face[0].permute(1, 2, 0).numpy(), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def corner_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corner")
    rng = np.random.default_rng(0)
    lines = ["a,b,same"]
    for i in range(12):
        a = _smooth_face(rng)
        mix = 0.15 if i % 2 == 0 else 0.5  # mates: a little of another face; non-mates: half
        b = np.clip((1 - mix) * a + mix * _smooth_face(rng), 0, 255).astype(np.uint8)
        for name, face in ((f"{i}a.png", a), (f"{i}b.png", b)):
            Image.fromarray(face).save(folder / name)
        lines.append(f"{i}a.png,{i}b.png,{int(i % 2 == 0)}")
    (folder / "pairs.csv").write_text("\n".join(lines) + "\n")
    net = wrap_module(Corner(), input_size=(SIZE, SIZE), threshold=0.8, name="corner")
    with use_plugins(_Plugin()):
        run_benchmark(read_pairs(folder / "pairs.csv", folder), ["truth"], net, folder / "out", steps=8,
                      batch_size=16, aligned=True)
        return summarise(folder / "out")


@pytest.mark.parametrize("kind", ["mate", "non-mate"])
def test_the_true_map_beats_both_controls_and_the_centre_does_not_beat_random(corner_run, kind):
    explainers = corner_run["explainers"]
    truth = explainers["truth"]["results"][kind]["both"]
    for score in ("deletion_auc", "insertion_auc"):
        assert truth[score]["versus"]["beats"] is True, (score, truth[score])
        assert truth[score]["n"] == 6
    centre = explainers["centre"]["results"][kind]["both"]["deletion_auc"]
    random = explainers["random"]["results"][kind]["both"]["deletion_auc"]
    assert centre["mean"] > random["mean"]  # removing the middle first misses the corner: worse than chance
    assert explainers["truth"]["beats_controls"][kind]["deletion_auc"] is True
    verification = corner_run["run"]["verification"]
    assert verification["mates"] == verification["non_mates"] == 6


def test_the_sanity_check_in_a_run_flags_the_controls_and_not_gradcam(tmp_path):
    from s2w_toolkit.testing import random_faces, tiny_backbone

    net = tiny_backbone(SIZE)
    faces = random_faces(12, size=SIZE, seed=3)
    lines = ["a,b,same"]
    for i in range(6):
        for side, face in (("a", faces[2 * i]), ("b", faces[2 * i + 1])):
            Image.fromarray(face).save(tmp_path / f"{i}{side}.png")
        lines.append(f"{i}a.png,{i}b.png,{i % 2}")
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    pairs = read_pairs(tmp_path / "pairs.csv", tmp_path)
    run_benchmark(pairs, ["gradcam"], net, tmp_path / "out", steps=2, aligned=True,
                  metrics={"sanity": {"pairs": 4, "levels": 2}})
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    checked = {r["key"] for r in rows if "sanity" in r.get("metrics", {})}
    assert len(checked) == 4 and {p.same for p in pairs if p.key in checked} == {True, False}  # half of each
    summary = summarise(tmp_path / "out")["explainers"]
    assert summary["random"]["sanity"]["flagged"] and summary["centre"]["sanity"]["flagged"]
    assert not summary["gradcam"]["sanity"]["flagged"]
    assert [level["label"] for level in summary["gradcam"]["sanity"]["levels"]][-1].endswith(" layers")
    assert summary["gradcam"]["results"]["mate"]["both"]["spearman_full"]["n"] == 2


_BROKEN = {"raise": True}


class _BrokenMetricPlugin:
    """A third-party metric that raises on every row while ``_BROKEN["raise"]``."""

    @hookimpl
    def s2w_register_metrics(self):
        from s2w_toolkit.bench.metric import Metric

        class Broken(Metric):
            name = "broken-metric"
            description = "raises"

            def measure(self, job):
                if _BROKEN["raise"]:
                    raise RuntimeError("broken-metric always raises")
                return {"both": {}}

        return [Broken]


def test_a_metric_that_raises_leaves_every_other_number_and_is_retried(tmp_path):
    from s2w_toolkit.cli.benchmark import _exit_status
    from s2w_toolkit.errors import S2WError

    folder = tmp_path / "set"
    folder.mkdir()
    for i, face in enumerate((_smooth_face(np.random.default_rng(5)), _smooth_face(np.random.default_rng(6)))):
        Image.fromarray(face).save(folder / f"{i}.png")
    (folder / "pairs.csv").write_text("a,b,same\n0.png,1.png,0\n")
    net = wrap_module(Corner(), input_size=(SIZE, SIZE), threshold=0.8, name="corner")
    errors = []
    pairs = read_pairs(folder / "pairs.csv", folder)
    with use_plugins(_BrokenMetricPlugin()):
        _BROKEN["raise"] = True
        counts = run_benchmark(pairs, [], net, tmp_path / "out", steps=2, aligned=True, on_error=errors.append)
        summary = summarise(tmp_path / "out")
        assert counts["failed"] == 2 and {e["stage"] for e in errors} == {"measure broken-metric"}
        rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
        assert all("error" not in r and "deletion" in r["metrics"] and "replacement" in r["metrics"] for r in rows)
        assert all(r["metric_errors"] == {"broken-metric": "RuntimeError: broken-metric always raises"} for r in rows)
        assert summary["explainers"]["random"]["metric_errors"] == {"broken-metric": 1}
        assert summary["explainers"]["random"]["results"]["non-mate"]["both"]["deletion_auc"]["n"] == 1
        with pytest.raises(S2WError, match=r"metrics failed \(broken-metric: 2 rows\)"):
            _exit_status(summary, counts)
        _BROKEN["raise"] = False  # mended: resume redoes those rows, and they are whole now
        again = run_benchmark(pairs, [], net, tmp_path / "out", steps=2, aligned=True, resume=True)
        assert again["written"] == 2 and again["failed"] == 0
        assert summarise(tmp_path / "out")["explainers"]["random"]["metric_errors"] == {}
