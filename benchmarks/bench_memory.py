"""Peak memory of ``s2w benchmark`` on 10x the pairs against 1x, in one run.

``s2w benchmark`` streams one line per (pair, explainer) to ``results.jsonl`` and keeps no
per-pair results in memory, so its peak memory should not grow with the number of pairs. This
script checks that: it writes two pair lists, of K and of 10 K pairs (the six bundled pairs of
``s2w_toolkit/data/pairs.csv`` repeated in order; a pair may appear more than once, each line
has its own key), runs

    s2w benchmark --pairs LIST.csv --root s2w_toolkit/data/faces -e input-gradient --steps 4 --out DIR

on each in a fresh process, and prints each process's peak resident set size (``ru_maxrss``
from ``os.wait4``: that child alone, not the largest child so far as ``RUSAGE_CHILDREN`` would
give), its wall time, and the ratios 10x / 1x. It also runs a reference process that only
imports the toolkit and loads the backbone (which warms the file cache too), to show how much of
the peak is fixed cost.

With ``--repeats N`` each process runs N times and the medians are printed. The default is one
run each: the 10 K run dominates the time (about 55 s in all for the defaults on 2 idle CPU
cores, several times that on a loaded machine), and peak RSS varies by about +-20 MiB between
identical runs anyway.

    python benchmarks/bench_memory.py [--pairs 3] [--explainer input-gradient] [--steps 4] [--repeats 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from s2w_toolkit.bench.pairs import BUNDLED
from s2w_toolkit.data import FACES_DIR

FLOOR = "from s2w_toolkit import load_backbone; load_backbone('dlib-resnet', device='cpu')"


def s2w_command() -> list[str]:
    """``s2w`` as a command line: the console script next to this interpreter, or its entry point."""
    script = Path(sys.executable).with_name("s2w")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; sys.argv[0] = 's2w'; from s2w_toolkit.cli.main import main; main()"]


def write_pairs(path: Path, count: int) -> None:
    """``count`` rows of the bundled pair list, repeated in order."""
    with open(BUNDLED, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["a", "b", "same"])
        writer.writeheader()
        for i in range(count):
            row = rows[i % len(rows)]
            writer.writerow({"a": row["a"], "b": row["b"], "same": row["same"]})


def run_child(command: list[str], log: Path) -> tuple[float, float]:
    """Run ``command`` to completion (output to ``log``); its ``(peak RSS in MiB, wall seconds)``."""
    with open(log, "w") as out:
        start = time.perf_counter()
        pid = os.posix_spawn(command[0], command, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, out.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} exited with {code}:\n{log.read_text()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="K: pairs in the small list (the large one has 10 K)")
    parser.add_argument("--explainer", "-e", default="input-gradient")
    parser.add_argument("--steps", type=int, default=4, help="deletion/insertion steps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each process (medians are printed)")
    args = parser.parse_args()
    if sys.platform != "linux":
        raise SystemExit("this script reads ru_maxrss as KiB, which holds on Linux only")

    with tempfile.TemporaryDirectory(prefix="s2w-bench-memory-") as tmp:
        folder = Path(tmp)
        sizes = {"1x": args.pairs, "10x": 10 * args.pairs}
        commands = {"floor: import + load backbone": [sys.executable, "-c", FLOOR]}
        for label, count in sizes.items():
            write_pairs(folder / f"pairs-{label}.csv", count)
            commands[f"{label}: {count} pairs"] = s2w_command() + [
                "benchmark", "--pairs", str(folder / f"pairs-{label}.csv"), "--root", str(FACES_DIR),
                "-e", args.explainer, "--steps", str(args.steps), "--out", str(folder / f"out-{label}"),
                "--device", args.device]
        run_child(commands["floor: import + load backbone"], folder / "warm-up.log")  # warm-up
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                peak, seconds = run_child(command, folder / "child.log")
                peaks[name].append(peak)
                times[name].append(seconds)
        lines = {label: sum(1 for line in (folder / f"out-{label}" / "results.jsonl").read_text().splitlines()
                            if line.strip()) for label in sizes}

    peak = {name: statistics.median(values) for name, values in peaks.items()}
    seconds = {name: statistics.median(values) for name, values in times.items()}
    small, large = (f"{label}: {count} pairs" for label, count in sizes.items())
    runs = f"median of {args.repeats} runs" if args.repeats > 1 else "one run each"
    table = Table(title=f"s2w benchmark -e {args.explainer} --steps {args.steps} ({args.device}), "
                        f"peak RSS per process, {runs}")
    table.add_column("process")
    table.add_column("peak RSS MiB", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("results.jsonl lines", justify="right")
    for name in commands:
        label = name.split(":")[0]
        table.add_row(name, f"{peak[name]:.0f}", f"{seconds[name]:.1f}", str(lines.get(label, "")))
    table.add_row("[bold]peak RSS 10x / 1x[/]", f"[bold]{peak[large] / peak[small]:.3f}x[/]", "", "")
    table.add_row("peak RSS 10x - 1x", f"{peak[large] - peak[small]:+.0f}", "", "")
    table.add_row("seconds 10x / 1x", "", f"{seconds[large] / seconds[small]:.2f}x", "")
    extra = 9 * args.pairs
    table.add_row(f"seconds per extra pair ((10x - 1x) / {extra})", "",
                  f"{(seconds[large] - seconds[small]) / extra:.2f}", "")
    Console().print(table)


if __name__ == "__main__":
    main()
