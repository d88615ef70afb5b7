"""Issue 27, what the CLI prints and names: outside text is never read as Rich markup (item 2),
output names stay inside ``--out`` (16) and are unique per photo (19), a failed explainer leaves
no stale figure (13), and output that is not a terminal gets plain progress lines and whole
tables (20).

Outside text here is the strings that broke the commands: a plugin message with ``[/red]``, an
image named ``[/x]missing.jpg``, an explainer named ``rt-[/red]markup``, a label column
``[/red]smiling``, a photo ``me [edited].jpg``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from s2w_toolkit import Explainer, Explanation, hookimpl
from s2w_toolkit.explainers.explanation import Word
from s2w_toolkit.testing import use_plugins

MARKUP_NAME = "rt-[/red]markup"
MARKUP_MESSAGE = "the plugin says [/red] and [bold]no[/bold]"
MARKUP_WORD = "[/red]smiling"
EDITED = "me [edited].jpg"
MISSING = "[/x]missing.jpg"


def _flat(pair, backbone, words=None) -> Explanation:
    import torch

    with torch.no_grad():
        score = backbone.similarity(pair.a, pair.b).item()
    ones = np.ones(tuple(pair.a.shape[-2:]))
    return Explanation(score=score, maps={"a": ones, "b": ones}, words=words)


class MarkupRaises(Explainer):
    name = MARKUP_NAME

    def explain(self, pair, backbone, attributes=None):
        raise RuntimeError(MARKUP_MESSAGE)


class MarkupWords(Explainer):
    name = "markup-words"

    def explain(self, pair, backbone, attributes=None):
        return _flat(pair, backbone, [Word(MARKUP_WORD, 0.5, {"side": "a"})])


class EscapingName(Explainer):
    name = "../../escaped"

    def explain(self, pair, backbone, attributes=None):
        return _flat(pair, backbone)


class DrawsOnce(Explainer):
    """Draws its figure on the first run and fails to draw on every later one."""

    name = "draws-once"
    drawn = 0

    def explain(self, pair, backbone, attributes=None):
        return _flat(pair, backbone)

    def render(self, explanation, face_a, face_b, path):
        DrawsOnce.drawn += 1
        if DrawsOnce.drawn > 1:
            raise OSError("cannot draw today")
        return super().render(explanation, face_a, face_b, path)


class _Plugin:
    @hookimpl
    def s2w_register_explainers(self):
        return [MarkupRaises, MarkupWords, EscapingName, DrawsOnce]


@pytest.fixture
def markup_plugins():
    with use_plugins(_Plugin(), installed=True) as registry:
        yield registry


@pytest.fixture
def photos(demo, tmp_path):
    folder = tmp_path / "photos [x]"
    folder.mkdir()
    shutil.copy(demo["obama"], folder / EDITED)
    shutil.copy(demo["obama2"], folder / "obama2.jpg")
    shutil.copy(demo["biden"], folder / "biden.jpg")
    return folder


def _pairs(folder, rows) -> str:
    text = "a,b,same\n" + "".join(f"{a},{b},{same}\n" for a, b, same in rows)
    (folder / "pairs.csv").write_text(text)
    return str(folder / "pairs.csv")


def _clean(result) -> None:
    """No traceback and no markup error: whatever broke was one line."""
    assert "Traceback" not in result.output and "MarkupError" not in result.output, result.output


def test_explain_prints_outside_text_as_written_and_keeps_the_other_explainers(markup_plugins, photos, tmp_path,
                                                                               run_cli):
    out = tmp_path / "out [1]"
    result = run_cli("explain", "-e", MARKUP_NAME, "-e", "markup-words", "-e", "centre", photos / EDITED,
                     photos / "obama2.jpg", "--out", out)
    _clean(result)
    assert result.exit_code == 1
    assert f"error: explainer '{MARKUP_NAME}' failed" in result.stderr and MARKUP_MESSAGE in result.stderr
    assert MARKUP_WORD in result.stdout  # the words table shows the word as it is
    assert (out / "markup-words.json").is_file() and (out / "centre.png").is_file() and (out / "compare.png").is_file()
    assert "1 of 3 explainer(s) failed" in result.stderr


def test_verify_shows_bracketed_names_and_a_missing_one_in_one_line(photos, run_cli):
    result = run_cli("verify", photos / EDITED, photos / "obama2.jpg")
    _clean(result)
    assert result.exit_code == 0 and EDITED in result.stdout  # not "me .jpg"
    missing = run_cli("verify", photos / MISSING, photos / "obama2.jpg")
    _clean(missing)
    assert missing.exit_code == 1 and MISSING in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_benchmark_audit_report_and_calibrate_survive_bracketed_names_messages_and_folders(markup_plugins, photos, tmp_path, run_cli):
    pairs = _pairs(photos, [(EDITED, "obama2.jpg", 1), (MISSING, "biden.jpg", 0), ("obama2.jpg", "biden.jpg", 0)])
    bench = tmp_path / "bench [/red]"
    result = run_cli("benchmark", "--pairs", pairs, "-e", MARKUP_NAME, "-e", "markup-words", "--steps", "2",
                     "--fill", "black", "--out", bench)
    _clean(result)
    assert result.exit_code == 1 and MISSING in result.stderr and MARKUP_MESSAGE in result.stderr
    rows = [json.loads(line) for line in (bench / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 4  # every pair, every explainer (two of them the controls)
    assert (bench / "summary.md").is_file() and "markup-words" in result.stdout
    audit = tmp_path / "audit [b]"
    result = run_cli("audit", "--pairs", pairs, "-e", MARKUP_NAME, "--out", audit)
    _clean(result)
    assert result.exit_code == 1 and MISSING in result.stderr and MARKUP_MESSAGE in result.stderr
    assert (audit / "audit.json").is_file()
    report = run_cli("report", audit)
    _clean(report)
    assert report.exit_code == 0 and str(audit) in report.output
    calibrated = run_cli("calibrate", "--pairs", pairs, "--fmr", "0.5", "--out", tmp_path / "t [1].json")
    _clean(calibrated)
    assert calibrated.exit_code == 0 and MISSING in calibrated.stderr and "t [1].json" in calibrated.stdout


def test_plugins_lists_a_bracketed_explainer_name(markup_plugins, run_cli):
    result = run_cli("plugins")
    _clean(result)
    assert result.exit_code == 0 and MARKUP_NAME in result.stdout


def test_attributes_train_prints_a_bracketed_column(net, demo, tmp_path, run_cli):
    from PIL import Image

    from s2w_toolkit import load_face

    rows = []
    for i, name in enumerate(("obama", "obama2", "obama3", "biden")):
        face = load_face(demo[name], net)[0]
        for flip in (False, True):
            file = f"{name}-{int(flip)}.png"
            Image.fromarray(face[:, ::-1] if flip else face).save(tmp_path / file)
            rows.append(f"{file},{'yes' if (i + flip) % 2 else 'no'}")
    labels = tmp_path / "labels.csv"
    labels.write_text("face,[/red]smiling\n" + "\n".join(rows) + "\n")
    result = run_cli("attributes", "train", "--labels", labels, "--images", tmp_path, "--aligned", "--out",
                     tmp_path / "heads.pt", "--device", "cpu")
    _clean(result)
    assert result.exit_code == 0 and "[/Red]Smiling".lower() in result.output.lower()


def test_an_explainer_name_never_leaves_the_output_folder(markup_plugins, demo, tmp_path, run_cli):
    out = tmp_path / "deep" / "out"
    result = run_cli("explain", "-e", "../../escaped", demo["obama"], demo["obama2"], "--out", out)
    assert result.exit_code == 0, result.output
    assert not list((tmp_path / "deep").glob("*.json")) and not list(tmp_path.glob("*.json"))
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 and all(name.startswith("escaped-") for name in written)


def test_a_failing_render_leaves_no_stale_figure_of_an_earlier_run(markup_plugins, demo, tmp_path, run_cli):
    out = tmp_path / "out"
    DrawsOnce.drawn = 0
    assert run_cli("explain", "-e", "draws-once", demo["obama"], demo["obama2"], "--out", out).exit_code == 0
    assert (out / "draws-once.png").is_file()
    again = run_cli("explain", "-e", "draws-once", demo["obama"], demo["biden"], "--out", out)
    assert again.exit_code == 1 and "cannot draw today" in again.stderr
    assert not (out / "draws-once.png").exists()  # the old figure is not left beside the new JSON
    assert json.loads((out / "draws-once.json").read_text())["score"] < 0.9  # the JSON is this run's


def test_same_named_photos_get_their_own_outputs_and_labels(demo, tmp_path, run_cli):
    for person, source in (("kit", demo["obama"]), ("biden", demo["biden"])):
        (tmp_path / person).mkdir()
        shutil.copy(source, tmp_path / person / "1.jpg")
    out = tmp_path / "out"
    result = run_cli("attributes", tmp_path / "kit" / "1.jpg", tmp_path / "biden" / "1.jpg", "--out", out,
                     "--attributes", "age-gender")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["attributes-biden-1.png", "attributes-kit-1.png"]
    assert "kit/1.jpg" in result.stdout and "biden/1.jpg" in result.stdout
    verify = run_cli("verify", tmp_path / "kit" / "1.jpg", tmp_path / "biden" / "1.jpg")
    assert "kit/1.jpg" in verify.stdout and "biden/1.jpg" in verify.stdout


def test_piped_output_has_plain_progress_lines_and_whole_tables(tmp_path):
    """A real process with stderr and stdout piped (as under CI or nohup): progress lines on
    stderr, and a table wider than 80 columns printed whole."""
    env = {**os.environ, "S2W_PROGRESS_SECONDS": "0"}
    env.pop("COLUMNS", None)
    out = tmp_path / ("a-long-folder-name-" * 4)
    s2w = os.path.join(os.path.dirname(sys.executable), "s2w")
    done = subprocess.run([s2w, "benchmark", "-e", "centre", "--count", "2",
                           "--steps", "2", "--fill", "black", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("centre: ")]
    assert progress[-1].startswith("centre: 2/2 (100%)"), done.stderr
    assert any(line.startswith("centre: 1/2 (50%)") for line in progress)
    assert f"wrote {out / 'results.jsonl'}" in done.stdout  # one line, not folded at 80 columns
    assert any(len(line) > 80 for line in done.stdout.splitlines())
