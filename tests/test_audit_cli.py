"""``s2w audit`` and ``s2w report`` from the command line, under the reliability rules: a missing
image is an error row, a failing explainer does not stop the audit, the report lists error rows."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import faulty_plugins
from s2w_toolkit.data import FACES_DIR

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?!data:|#)|url\(\s*["']?(?!data:)|https?://|@import""", re.I)


def _pairs_csv(tmp_path, extra: str = "") -> str:
    lines = ["a,b,same"] + [f"{FACES_DIR / a},{FACES_DIR / b},{s}" for a, b, s in (
        ("obama.jpg", "obama2.jpg", 1), ("obama.jpg", "biden.jpg", 0), ("obama2.jpg", "obama3.jpg", 1),
        ("obama3.jpg", "biden.jpg", 0))]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n" + extra)
    return str(path)


def _audit(tmp_path):
    return json.loads((tmp_path / "A" / "audit.json").read_text())


def test_audit_then_report_of_the_bundled_pairs(run_cli, tmp_path):
    out = tmp_path / "A"
    result = run_cli("audit", "-e", "centre", "--contrast", "1", "--near", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "6 of 6 pairs scored" in result.output
    summary = _audit(tmp_path)
    assert summary["counts"]["pairs"] == 6 and summary["errors"] == []
    gallery = summary["gallery"]
    assert gallery and all((out / e["figure"]).is_file() for g in gallery for e in g["explainers"])
    assert {r["key"] for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines())} == \
        {g["key"] for g in gallery} | {r["key"] for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines())}
    assert set(summary["groups"]) >= {"Gender", "Age"}  # the attribute models' category words
    report = run_cli("report", out)
    assert report.exit_code == 0, report.output
    html = (out / "report.html").read_text()
    for entry in gallery:  # each gallery pair exactly once
        assert html.count(f'data-pair="{entry["key"]}"') == 1, entry["key"]
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:3]
    assert "predicted, not ground truth" in html or "not ground truth" in html
    again = run_cli("audit", "-e", "centre", "--out", out)  # a folder holding an audit is not overwritten
    assert again.exit_code == 1 and "already holds an audit" in again.output


def test_resume_keeps_the_rows_and_fmr_says_it_calibrated_on_the_pairs(run_cli, tmp_path):
    out = tmp_path / "A"
    assert run_cli("audit", "-e", "centre", "--contrast", "1", "--out", out, "--pairs", _pairs_csv(tmp_path)).exit_code == 0
    rows = (out / "explanations.jsonl").read_text()
    resumed = run_cli("audit", "-e", "centre", "--contrast", "1", "--out", out, "--pairs", _pairs_csv(tmp_path),
                      "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert (out / "explanations.jsonl").read_text() == rows  # nothing explained twice
    calibrated = run_cli("audit", "-e", "centre", "--out", tmp_path / "B", "--pairs", _pairs_csv(tmp_path),
                         "--fmr", "0.5")
    assert calibrated.exit_code == 0, calibrated.output
    source = json.loads((tmp_path / "B" / "audit.json").read_text())["threshold"]["source"]
    assert "calibrated on these 4 pairs" in source
    assert run_cli("audit", "--fmr", "2", "--out", tmp_path / "C").exit_code == 2


def test_a_missing_image_is_an_error_row_and_the_report_lists_it(run_cli, tmp_path):
    out = tmp_path / "A"
    pairs = _pairs_csv(tmp_path, f"{FACES_DIR / 'obama.jpg'},{tmp_path / 'gone.jpg'},1\n")
    result = run_cli("audit", "-e", "centre", "--contrast", "1", "--out", out, "--pairs", pairs)
    assert result.exit_code == 1 and "1 rows failed" in result.output
    summary = _audit(tmp_path)
    assert summary["counts"]["scored"] == 4 and summary["counts"]["load_errors"] == 1
    assert [e["stage"] for e in summary["errors"]] == ["load"] and "gone.jpg" in summary["errors"][0]["error"]
    assert run_cli("report", out).exit_code == 0
    html = (out / "report.html").read_text()
    assert html.count('class="error-row"') == 1 and "gone.jpg" in html


def test_a_failing_explainer_does_not_stop_the_audit(run_cli, tmp_path):
    out = tmp_path / "A"
    with faulty_plugins.registered():
        result = run_cli("audit", "-e", "broken-raises", "-e", "centre", "--contrast", "1", "--out", out,
                         "--pairs", _pairs_csv(tmp_path))
    assert result.exit_code == 1, result.output
    rows = [json.loads(x) for x in (out / "explanations.jsonl").read_text().splitlines()]
    broken = [r for r in rows if r["explainer"] == "broken-raises"]
    centre = [r for r in rows if r["explainer"] == "centre"]
    assert broken and all("broken-raises always raises" in r["error"] for r in broken)
    assert len(centre) == len(broken) and all("error" not in r for r in centre)
    assert run_cli("report", out).exit_code == 0
    html = (out / "report.html").read_text()
    assert html.count('class="error-row"') == len(broken)


def test_report_of_a_benchmark_folder_and_of_a_folder_that_is_neither(run_cli, tmp_path):
    bench = tmp_path / "bench"
    assert run_cli("benchmark", "-e", "centre", "--steps", "2", "--count", "2", "--fill", "black",
                   "--out", bench).exit_code == 0
    assert run_cli("report", bench).exit_code == 0
    html = (bench / "report.html").read_text()
    assert "mates" in html and "<table" in html and "data:image/png;base64," in html
    assert not EXTERNAL.findall(html)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("report", empty)
    assert result.exit_code == 1 and "neither an audit" in result.output
    shutil.rmtree(empty)
    assert run_cli("report", empty).exit_code == 1


@pytest.fixture(autouse=True)
def _no_stray_reports(tmp_path):
    yield
    assert not list(tmp_path.glob("**/*.tmp*"))  # atomic writes leave no temporary file behind
