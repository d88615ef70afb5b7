"""Scoring the swap game (issue 28): the scores against hand-computed values, and a whole game
on a tiny synthetic backbone whose embedding reads only one off-centre region, where the answer
is known: a gradient map finds it perfectly, ``random`` scores chance, and the centre blob does
not beat ``random``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from s2w_toolkit.errors import S2WError
from s2w_toolkit.game.scores import hit_auc, map_scores, mass_ratio, pointing
from s2w_toolkit.game.summary import summarise

SIZE = 32
#: The region the synthetic backbone reads: rows 3..10, columns 21..28 (off-centre, 6% of the face).
REGION = (slice(3, 11), slice(21, 29))


def _mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[REGION] = True
    return mask


def test_scores_of_an_oracle_a_flat_and_a_random_map():
    mask = _mask()
    share = mask.mean()
    oracle = map_scores(mask.astype(float), mask)
    assert oracle == {"mass_ratio": pytest.approx(1 / share), "pointing": 1.0, "hit_auc": 1.0}
    flat = map_scores(np.full((SIZE, SIZE), 0.3), mask)
    assert flat["mass_ratio"] == pytest.approx(1.0) and flat["hit_auc"] == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    noise = [map_scores(rng.random((SIZE, SIZE)), mask, seed=k) for k in range(200)]
    assert np.mean([s["mass_ratio"] for s in noise]) == pytest.approx(1.0, abs=0.03)
    assert np.mean([s["hit_auc"] for s in noise]) == pytest.approx(0.5, abs=0.02)
    assert np.mean([s["pointing"] for s in noise]) == pytest.approx(share, abs=0.05)
    inverse = map_scores((~mask).astype(float), mask)  # everywhere but the region
    assert inverse["mass_ratio"] == 0.0 and inverse["pointing"] == 0.0 and inverse["hit_auc"] == 0.0


def test_a_coarse_map_is_resized_and_ties_are_drawn_with_the_seed():
    mask = _mask()
    coarse = np.zeros((4, 4))
    coarse[0, 3] = 1.0  # the top-right cell: the region's corner of the face
    assert mass_ratio(coarse, mask) > 3 and hit_auc(coarse, mask) > 0.9
    flat = np.ones((SIZE, SIZE))
    draws = {pointing(flat, mask, seed) for seed in range(50)}
    assert draws == {0.0, 1.0}  # a flat map points at a random pixel, not always at the first one


class _ReadsOneRegion(nn.Module):
    """An embedding of the region's pixels only: every other pixel has no effect on it."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("mask", torch.from_numpy(_mask()).float()[None, None])
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * SIZE * SIZE, 16)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.2)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x * self.mask)).flatten(1))


@pytest.fixture
def synthetic_game(tmp_path):
    """A game folder of 8 people built by hand on the synthetic backbone: each mate gets another
    person's pixels in the region (the planted difference)."""
    from s2w_toolkit.backbones.wrapped import wrap_module

    net = wrap_module(_ReadsOneRegion(), input_size=(SIZE, SIZE), name="reads-one-region")
    rng = np.random.default_rng(1)
    folder = tmp_path / "game"
    (folder / "faces").mkdir(parents=True)
    (folder / "cases").mkdir()
    mask = _mask()
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "cases" / "mask.png")
    rows = []
    for i in range(8):
        probe, mate, donor = (rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(3))
        swapped = mate.copy()
        swapped[mask] = donor[mask]
        for name, face in (("probe", probe), ("mate", mate), ("swapped", swapped)):
            Image.fromarray(face).save(folder / "faces" / f"{i}-{name}.png")
        rows.append({"case": f"case{i}", "kind": "swap", "person": f"p{i}", "region": "corner",
                     "probe": f"faces/{i}-probe.png", "mate": f"faces/{i}-mate.png",
                     "swapped": f"faces/{i}-swapped.png", "mask": "cases/mask.png", "probe_kept": True})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "game.json").write_text(json.dumps({"settings": {"backbone": net.name}}))
    return folder, net


def _play(folder, net, out, names=("input-gradient",), **kwargs):
    from s2w_toolkit.explainers.control_names import with_controls
    from s2w_toolkit.game.score import score_game
    from s2w_toolkit.registry import get_registry

    names = with_controls(list(names))
    classes = {n: get_registry().explainer(n) for n in names}
    return score_game(folder, out, names, classes, net, {n: {} for n in names}, **kwargs)


def test_on_a_backbone_that_reads_one_region_the_gradient_finds_it_and_the_controls_do_not(synthetic_game,
                                                                                         tmp_path):
    folder, net = synthetic_game
    rows = _play(folder, net, tmp_path / "scores")
    assert len(rows) == 8 * 2 * 3 and not [r for r in rows if "error" in r]
    gradient = [r["scores"] for r in rows if r["explainer"] == "input-gradient"]
    share = _mask().mean()
    assert all(s["pointing"] == 1.0 for s in gradient)
    assert all(s["mass_ratio"] == pytest.approx(1 / share, rel=1e-6) for s in gradient)  # the most there is
    summary = summarise(rows)
    cells = summary["cells"]
    random = cells["random"]["corner"]["self"]["swap"]["mass_ratio"]
    assert 0.8 < random["mean"] < 1.2  # chance
    centre = cells["centre"]["corner"]["self"]["swap"]["mass_ratio"]
    assert centre["mean"] < random["mean"]  # the blob looks at the middle, not at this corner
    assert cells["input-gradient"]["corner"]["self"]["swap"]["mass_ratio"]["beats"] is True
    assert cells["input-gradient"]["all"]["probe"]["swap"]["hit_auc"]["beats"] is True


def test_scores_resume_without_redoing_a_row_and_refuse_another_backbone(synthetic_game, tmp_path):
    folder, net = synthetic_game
    out = tmp_path / "scores"
    _play(folder, net, out, count=2)
    lines = (out / "scores.jsonl").read_text().count("\n")
    with pytest.raises(S2WError, match="already holds game scores"):
        _play(folder, net, out, count=2)
    _play(folder, net, out, count=3, resume=True)
    assert (out / "scores.jsonl").read_text().count("\n") == lines + 1 * 2 * 3  # only the third case
    from s2w_toolkit.testing import tiny_backbone

    with pytest.raises(S2WError, match="built with backbone 'reads-one-region', not 'tiny-conv'"):
        _play(folder, tiny_backbone(SIZE), tmp_path / "o2")


def test_a_manifest_cannot_point_outside_its_game(synthetic_game, tmp_path):
    folder, net = synthetic_game
    text = (folder / "manifest.jsonl").read_text().replace('"faces/0-probe.png"', '"../../etc/passwd"')
    (folder / "manifest.jsonl").write_text(text)
    with pytest.raises(S2WError, match="leads outside"):
        _play(folder, net, tmp_path / "scores", count=1)


def test_game_score_cli_writes_summary_table_and_figure(synthetic_game, tmp_path, run_cli, monkeypatch):
    folder, net = synthetic_game
    import s2w_toolkit.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_backbone", lambda *a, **k: net)
    out = tmp_path / "scores"
    result = run_cli("game", "score", folder, "-e", "input-gradient", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "game.png").is_file() and "input-gradient" in (out / "summary.md").read_text()
    assert "beats both" in (out / "summary.md").read_text() and "corner" in result.stdout
    page = run_cli("report", out)
    assert page.exit_code == 0, page.output
    html = (out / "report.html").read_text()
    assert "The swap game" in html and "data:image/png;base64," in html and "input-gradient" in html
    bad = run_cli("game", "score", tmp_path, "--out", tmp_path / "x")
    assert bad.exit_code == 1 and "game.json: no such file" in bad.stderr


def test_benchmark_plays_the_game_and_its_report_shows_it(synthetic_game, tmp_path, run_cli, monkeypatch):
    folder, net = synthetic_game
    import s2w_toolkit.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_backbone", lambda *a, **k: net)
    out = tmp_path / "bench"
    result = run_cli("benchmark", "-e", "input-gradient", "--count", "2", "--steps", "2", "--aligned", "--fill",
                     "black", "--game", folder, "--out", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "game" / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 8 * 2 * 3 and (out / "game" / "game.png").is_file()
    assert run_cli("report", out).exit_code == 0
    html = (out / "report.html").read_text()
    assert "The swap game" in html and "deletion" in html.lower()
    bad = run_cli("benchmark", "-e", "centre", "--game", tmp_path / "nothing", "--out", tmp_path / "b2")
    assert bad.exit_code == 1 and "game.json: no such file" in bad.stderr
