"""``s2w benchmark`` under faults: failing explainers and pairs, resume retries, settings checks,
merge order, damaged result files. Processes are real where the fault is about processes."""

import json
import shutil

import pytest

import faulty_plugins
from s2w_toolkit.bench.pairs import pair_list_id, read_pairs
from s2w_toolkit.data import FACES_DIR


@pytest.fixture
def faulty():
    with faulty_plugins.registered():
        yield


def _rows(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_failing_explainers_become_error_rows_and_the_run_goes_on(run_cli, faulty, tmp_path):
    out = tmp_path / "bench"
    result = run_cli("benchmark", "-e", "broken-raises", "-e", "broken-nan", "-e", "broken-empty", "-e", "broken-exit",
                     "-e", "gradcam", "--count", "2", "--steps", "2", "--out", out)
    assert result.exit_code == 1
    rows = _rows(out)
    good = [r for r in rows if r["explainer"] == "gradcam"]
    assert len(good) == 2 and all("error" not in r and "deletion" in r["metrics"] for r in good)
    errors = {r["explainer"]: r["error"] for r in rows if "error" in r}
    assert "RuntimeError: broken-raises always raises" in errors["broken-raises"]
    assert "non-finite values" in errors["broken-nan"] and "is empty (0x0)" in errors["broken-empty"]
    assert "called sys.exit(3)" in errors["broken-exit"]
    summary = _summary(out)
    explainers = summary["explainers"]
    assert explainers["gradcam"]["pairs"] == 2 and explainers["gradcam"]["failed"] == 0
    assert (explainers["broken-raises"]["pairs"], explainers["broken-raises"]["failed"]) == (0, 2)
    assert explainers["broken-raises"]["results"] == {} and explainers["random"]["pairs"] == 2
    assert "pair csv:obama.jpg|obama2.jpg, broken-raises (explain): explainer 'broken-raises' failed" in result.stderr
    assert "8 result rows failed (broken-empty: 2, broken-exit: 2, broken-nan: 2, broken-raises: 2)" in result.stderr
    assert (out / "curves.png").is_file() and (out / "summary.md").is_file()


def _pairs_csv(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["a,b,same"] + [f"{a},{b},{same}" for a, b, same in names]
    (folder / "pairs.csv").write_text("\n".join(lines) + "\n")
    return folder / "pairs.csv"


def test_every_pair_failing_to_load_exits_non_zero(run_cli, tmp_path):
    pairs = _pairs_csv(tmp_path / "set", [("gone.jpg", "missing.jpg", 1), ("x.jpg", "y.jpg", 0)])
    result = run_cli("benchmark", "--pairs", pairs, "-e", "input-gradient", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "none of the 2 pairs could be loaded" in result.stderr
    assert [r["stage"] for r in _rows(tmp_path / "out")] == ["load"] * 6  # 2 pairs, 1 explainer and 2 controls


def test_resume_retries_error_rows_once_the_image_exists(run_cli, tmp_path):
    folder = tmp_path / "set"
    pairs = _pairs_csv(folder, [("obama.jpg", "obama2.jpg", 1), ("obama.jpg", "biden.jpg", 0)])
    shutil.copy(FACES_DIR / "obama.jpg", folder)
    shutil.copy(FACES_DIR / "obama2.jpg", folder)
    out = tmp_path / "out"
    first = run_cli("benchmark", "--pairs", pairs, "-e", "input-gradient", "--steps", "2", "--out", out)
    assert first.exit_code == 1 and "biden.jpg: no such file" in first.stderr
    assert _summary(out)["explainers"]["input-gradient"]["failed"] == 1
    shutil.copy(FACES_DIR / "biden.jpg", folder)
    again = run_cli("benchmark", "--pairs", pairs, "-e", "input-gradient", "--steps", "2", "--out", out, "--resume")
    assert again.exit_code == 0, again.output
    assert len(_rows(out)) == 9  # the finished pair was not repeated; its error rows were retried
    mine = _summary(out)["explainers"]["input-gradient"]
    assert (mine["pairs"], mine["failed"]) == (2, 0)


def test_a_rerun_without_resume_is_refused_unless_overwrite(run_cli, tmp_path):
    out = tmp_path / "out"
    args = ("benchmark", "-e", "input-gradient", "--count", "1", "--steps", "2", "--out", out)
    assert run_cli(*args).exit_code == 0
    before = (out / "results.jsonl").read_text()
    refused = run_cli(*args)
    assert refused.exit_code == 1 and "already holds 3 benchmark results; use --resume" in refused.stderr
    assert (out / "results.jsonl").read_text() == before
    replaced = run_cli(*args, "--overwrite")
    assert replaced.exit_code == 0 and len(_rows(out)) == 3


@pytest.mark.parametrize("change, message", [
    (("--steps", "3"), "was made with steps=2, this run has steps=3"),
    (("-o", "seed=4"), "was made with input-gradient option seed=0, this run has input-gradient option seed=4"),
    (("--pairs", "OTHER"), "was made with pairs='bundled:"),
    (("--fill", "black"), "was made with fill='road', this run has fill='black'"),
    (("--threshold", "0.5"), "was made with threshold=0.904"),
    (("--sanity",), "was made with metrics=['auc-drop', 'cost', 'deletion', 'replacement', 'verification']"),
])
def test_resume_with_other_settings_or_pairs_is_refused(run_cli, tmp_path, change, message):
    out = tmp_path / "out"
    assert run_cli("benchmark", "-e", "input-gradient", "--count", "1", "--steps", "2", "--out", out).exit_code == 0
    if "OTHER" in change:
        other = _pairs_csv(tmp_path / "set", [("a.jpg", "b.jpg", 1)])
        change = ("--pairs", other)
    args = ["benchmark", "-e", "input-gradient", "--count", "1", "--steps", "2", "--out", out, "--resume"]
    result = run_cli(*args, *change)
    assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_pair_keys_come_from_the_image_paths_not_line_numbers(tmp_path):
    names = [("obama.jpg", "obama2.jpg", 1), ("obama.jpg", "biden.jpg", 0)]
    one = read_pairs(_pairs_csv(tmp_path / "one", names), FACES_DIR)
    two = read_pairs(_pairs_csv(tmp_path / "two", [("x.jpg", "y.jpg", 1)] + names[::-1]), FACES_DIR)
    assert {p.key for p in one} < {p.key for p in two}
    (tmp_path / "faces.csv").write_text("a,b,same,face_a,face_b\nobama.jpg,biden.jpg,0,1,0\n")
    assert read_pairs(tmp_path / "faces.csv")[0].key == "csv:obama.jpg@1|biden.jpg"
    csv = tmp_path / "one" / "pairs.csv"  # the same list over another image folder is another list
    assert pair_list_id(csv, root=tmp_path / "x") != pair_list_id(csv, root=tmp_path / "y") != pair_list_id(csv)


def test_merge_refuses_different_settings_and_ignores_argument_order(run_cli, tmp_path):
    for name, steps, shard in (("s1", "2", "1/2"), ("s2", "2", "2/2"), ("odd", "3", "2/2")):
        result = run_cli("benchmark", "-e", "input-gradient", "--count", "2", "--steps", steps, "--shard", shard,
                         "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
    # the same pair twice with other (timing) numbers: which one is kept must not depend on the order
    rows = _rows(tmp_path / "s2")
    (tmp_path / "dup").mkdir()
    (tmp_path / "dup" / "results.jsonl").write_text(json.dumps({**rows[0], "seconds": 99.0}) + "\n")
    merged = []
    for order in (("s1", "s2", "dup"), ("dup", "s2", "s1")):
        out = tmp_path / ("m-" + "-".join(order))
        result = run_cli("benchmark", "merge", *(tmp_path / f for f in order), "--out", out)
        assert result.exit_code == 0, result.output
        merged.append((out / "results.jsonl").read_text())
    assert merged[0] == merged[1] and len(merged[0].splitlines()) == 6
    mixed = run_cli("benchmark", "merge", tmp_path / "s1", tmp_path / "odd", "--out", tmp_path / "mixed")
    assert mixed.exit_code == 1 and "different settings: steps=" in mixed.stderr
    # also when the row with other settings is one that merging would drop as a duplicate
    (tmp_path / "dup" / "results.jsonl").write_text(json.dumps({**rows[0], "settings": {**rows[0]["settings"],
                                                                                        "steps": 7}}) + "\n")
    hidden = run_cli("benchmark", "merge", tmp_path / "s2", tmp_path / "dup", "--out", tmp_path / "hidden")
    assert hidden.exit_code == 1 and "different settings: steps=" in hidden.stderr


def test_a_partial_last_line_is_dropped_with_a_warning_and_resume_completes(run_cli, tmp_path):
    out = tmp_path / "out"
    args = ("benchmark", "-e", "input-gradient", "--count", "2", "--steps", "2", "--out", out)
    assert run_cli(*args).exit_code == 0
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed mid-write
    merged = run_cli("benchmark", "merge", out, "--out", tmp_path / "merged")
    assert merged.exit_code == 0 and "dropped a partial last line" in merged.stderr
    resumed = run_cli(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "dropped a partial last line" in resumed.stderr and "results.jsonl" in resumed.stderr
    rows = _rows(out)
    assert len(rows) == 6 and len({r["key"] for r in rows}) == 2
    damaged = out / "results.jsonl"
    damaged.write_text("{not json\n" + damaged.read_text())
    bad = run_cli("benchmark", "merge", out, "--out", tmp_path / "m2")
    assert bad.exit_code == 1 and "results.jsonl:1: not a result row" in bad.stderr
    assert run_cli(*args, "--overwrite").exit_code == 0 and len(_rows(out)) == 6  # --overwrite replaces it
