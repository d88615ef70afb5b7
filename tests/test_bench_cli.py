"""``s2w benchmark`` on the bundled pairs: streamed results, resume, shards, summaries."""

import json


def _lines(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]


def test_benchmark_streams_resumes_and_summarises(run_cli, tmp_path):
    out = tmp_path / "bench"
    result = run_cli("benchmark", "-e", "input-gradient", "--count", "2", "--steps", "4", "--out", out)
    assert result.exit_code == 0, result.output
    rows = _lines(out)
    assert [r["explainer"] for r in rows] == ["input-gradient", "random", "centre"] * 2  # the controls always run
    measured = rows[0]["metrics"]
    assert len(measured["deletion"]["a"]["deletion_curve"]) == 5 and "best" in measured["replacement"]["a"]
    assert rows[0]["forward_passes"] >= 2 and rows[0]["seconds"] > 0 and rows[0]["settings"]["fill"] == "road"
    summary = json.loads((out / "summary.json").read_text())
    mine = summary["explainers"]["input-gradient"]
    assert mine["pairs"] == 2 and -1 <= mine["results"]["mate"]["both"]["deletion_auc"]["mean"] <= 1
    assert summary["explainers"]["centre"]["role"] == "control"
    assert (out / "summary.csv").read_text().startswith("explainer,role,evidence,pair_type,side,metric,score")
    assert "| input-gradient | similarity |" in (out / "summary.md").read_text()
    again = run_cli("benchmark", "-e", "input-gradient", "--count", "3", "--steps", "4", "--out", out, "--resume")
    assert again.exit_code == 0, again.output
    keys = [r["key"] for r in _lines(out)]
    assert len(keys) == 9 and len(set(keys)) == 3  # the two finished pairs were not repeated


def test_shards_split_the_pairs(run_cli, tmp_path):
    keys = []
    for i in (1, 2):
        out = tmp_path / f"shard{i}"
        result = run_cli("benchmark", "-e", "input-gradient", "--shard", f"{i}/2", "--steps", "2", "--out", out)
        assert result.exit_code == 0, result.output
        keys.append({r["key"] for r in _lines(out)})
    assert len(keys[0]) == len(keys[1]) == 3 and not keys[0] & keys[1]
    merged = run_cli("benchmark", "merge", tmp_path / "shard1", tmp_path / "shard2", tmp_path / "shard1",
                     "--out", tmp_path / "merged")
    assert merged.exit_code == 0, merged.output
    assert {r["key"] for r in _lines(tmp_path / "merged")} == keys[0] | keys[1]  # each pair once
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text())["explainers"]["input-gradient"]
    assert summary["pairs"] == 6 and set(summary["replacement"]["rates"]) == {"mate", "non-mate"}
    assert set(summary["replacement"]["rates"]["mate"]) == {"best", "worst", "random"}
    for plot in ("curves.png", "replacement.png", "summary.png", "roc.png"):
        assert (tmp_path / "merged" / plot).stat().st_size > 10_000
    bad = run_cli("benchmark", "-e", "no-such", "--out", tmp_path / "x")
    assert bad.exit_code == 1 and "unknown explainer 'no-such'" in bad.output
    for args, message in ((("--threshold", "nope"), "--threshold nope: neither a number nor a calibration file"),
                          (("--metric", "nope"), "unknown metric 'nope'; known: auc-drop, cost, deletion")):
        refused = run_cli("benchmark", *args, "--out", tmp_path / "y")
        assert refused.exit_code == 1 and message in refused.output, refused.output
        assert not (tmp_path / "y").exists()  # refused before any work
