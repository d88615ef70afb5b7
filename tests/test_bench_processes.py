"""``s2w benchmark`` as real processes: two runs into one folder, and a run killed with kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import faulty_plugins
import pytest

CLI = [sys.executable, "-c", "from s2w_toolkit.cli.main import main; main()"]


def _start(tmp_path, out, *extra, seconds="1", gate=None):
    env = {**faulty_plugins.subprocess_env(tmp_path), "S2W_BROKEN_SLOW_SECONDS": seconds}
    if gate is not None:
        env["S2W_BROKEN_SLOW_GATE"] = str(gate)  # each broken-slow pair waits until this file exists
    # --fill black: ROAD's imputation is not what these tests are about
    return subprocess.Popen([*CLI, "benchmark", "-e", "broken-slow", "--steps", "2", "--fill", "black", "--out", str(out),
                             *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds=300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _lines(out):
    """The whole rows of the results file (a line being written, or cut by kill -9, is left out)."""
    path = out / "results.jsonl"
    data = path.read_text() if path.exists() else ""
    return [json.loads(x) for x in data[: data.rfind("\n") + 1].splitlines() if x.strip()]


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_pid(tmp_path):
    out = tmp_path / "out"
    gate = tmp_path / "gate"
    first = _start(tmp_path, out, seconds="0", gate=gate)  # holds the folder until the gate opens
    try:
        _wait_for(lambda: (out / ".s2w-lock").exists() and (out / ".s2w-lock").read_text().strip())
        others = [subprocess.Popen([*CLI, "benchmark", "-e", "input-gradient", "--out", str(out), *extra],
                                   env=faulty_plugins.subprocess_env(tmp_path), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
                  for extra in ((), ("--resume",), ("--overwrite",))]  # at once, while the first still runs
        for second in others:
            _, stderr = second.communicate(timeout=120)
            assert second.returncode == 1
            assert f"in use by another s2w run (pid {first.pid}" in stderr, stderr
        assert first.poll() is None  # the refusals came while it held the folder
        gate.touch()
        _, stderr = first.communicate(timeout=300)
        assert first.returncode == 0, stderr
    finally:
        first.kill()
    rows = _lines(out)
    assert len(rows) == 18 and {r["explainer"] for r in rows} == {"broken-slow", "random", "centre"}  # nothing lost,
    assert all(r["settings"] == rows[0]["settings"] for r in rows)  # nothing mixed in
    assert (out / ".s2w-lock").read_text() == ""  # released: emptied, kept (removing it would race)


def test_a_run_killed_with_kill_9_resumes_without_repeating_or_losing_rows(tmp_path):
    out = tmp_path / "out"
    first = _start(tmp_path, out)
    try:
        _wait_for(lambda: len(_lines(out)) >= 2)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    done = len(_lines(out))
    assert 2 <= done < 18
    refused = subprocess.run([*CLI, "benchmark", "-e", "broken-slow", "--steps", "2", "--fill", "black",
                              "--out", str(out)],
                             env=faulty_plugins.subprocess_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "already holds" in refused.stderr  # no silent wipe of the killed run
    assert f"took over the stale lock of pid {first.pid}" in refused.stderr
    resumed = _start(tmp_path, out, "--resume", seconds="0")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    keys = [r["key"] for r in _lines(out)]
    assert len(keys) == 18 and len(set(zip(keys, (r["explainer"] for r in _lines(out))))) == 18
    assert json.loads((out / "summary.json").read_text())["explainers"]["broken-slow"]["pairs"] == 6


def _kill_a_worker_and_resume(tmp_path, *spread, ready):
    """Start a run on two workers, kill -9 the first worker once rows arrive, then --resume."""
    import re
    import threading

    out = tmp_path / "out"
    run = _start(tmp_path, out, "--workers", "2", *spread, seconds="1")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stderr), daemon=True)
    reader.start()
    try:
        pid = lambda: next((int(m.group(1)) for x in list(lines) if (m := re.search(ready, x))), None)  # noqa: E731
        _wait_for(lambda: pid() is not None and len(_lines(out)) >= 1)
        os.kill(pid(), signal.SIGKILL)
        run.wait(timeout=300)
    finally:
        run.kill()
    reader.join(10)
    stderr = "".join(lines)
    assert f"(pid {pid()}) died" in stderr, stderr  # said, not silent
    # the other worker took the lost pair over (rc 0), or the run stopped saying how to go on
    assert run.returncode == 0 or "run again with --resume" in stderr, stderr
    resumed = _start(tmp_path, out, "--resume", *spread, seconds="0")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    rows = [(r["key"], r["explainer"]) for r in _lines(out)]
    assert len(rows) == 18 and len(set(rows)) == 18  # none lost, none repeated
    assert json.loads((out / "summary.json").read_text())["explainers"]["broken-slow"]["pairs"] == 6


def test_a_local_worker_killed_with_kill_9_costs_no_row(tmp_path):
    _kill_a_worker_and_resume(tmp_path, ready=r"worker 1 \(pid (\d+)\) ready")


@pytest.mark.slow  # a Ray cluster started and a worker killed; the local worker's test above is the fast twin
def test_a_ray_actor_killed_with_kill_9_costs_no_row(tmp_path, one_ray_at_a_time):
    import pytest

    pytest.importorskip("ray")
    # one pair a task: the killed actor is busy (Ray notices a dead actor through its task)
    _kill_a_worker_and_resume(tmp_path, "--engine", "ray", "--batch-pairs", "1", ready=r"ray actor 1 \(pid (\d+)\) ready")
