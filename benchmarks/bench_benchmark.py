"""Throughput of ``s2w benchmark`` in pairs per second: a reference checkout against this one,
serial, with ``--workers N`` and with ``--engine ray``, and whether they agree row for row.

The pair list reuses its images heavily, as LFW-style lists do: the first ``--pairs`` pairs of
``faces-dev/pairs.csv`` (15 photos for 105 pairs) followed by the bundled demo pairs. Every
variant is a whole ``s2w benchmark`` process (start-up, model loading, detection, explainers,
metrics, summary and plots) into a fresh folder, timed from the outside; the variants are run
alternately, ``--repeats`` rounds, and the medians and the spread (min-max) are printed with
each variant's ratio to the reference. The reference is ``--before REF``: that git commit of
this repository, cloned to a temporary folder and run with this interpreter (the same installed
plugins and packages), so both sides run on the same machine in the same session.

Then the results of the serial run, the workers and Ray are compared row for row
(:func:`s2w_toolkit.bench.compare.row_differences`, timings left out, 1e-6).

    python benchmarks/bench_benchmark.py --faces-dev ../shared/faces-dev --before db3620a \\
        [--pairs 12] [--repeats 2] [--workers 2] [--ray] [--threads 1] [-e sim2word -e input-gradient] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RUN = "import sys; from s2w_toolkit.cli.main import main; sys.argv[0] = 's2w'; main()"


def pair_list(faces_dev: Path | None, count: int, folder: Path) -> Path:
    """A CSV of absolute paths: faces-dev's first ``count`` pairs, then the demo pairs."""
    from s2w_toolkit.bench.pairs import read_pairs

    rows = []
    if faces_dev is not None:
        with open(faces_dev / "pairs.csv", newline="") as f:
            for row in list(csv.DictReader(f))[:count]:
                rows.append((faces_dev / row["a"], faces_dev / row["b"], row["same"]))
    for spec in read_pairs():
        rows.append((spec.a, spec.b, int(spec.same)))
    path = folder / "pairs.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "same"])
        writer.writerows(rows)
    return path


def run(pythonpath: Path | None, args: list[str]) -> float:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces-dev", type=Path, default=REPO.parent / "shared" / "faces-dev")
    parser.add_argument("--pairs", type=int, default=12, help="faces-dev pairs (the 6 demo pairs are added)")
    parser.add_argument("--before", default=None, help="git commit to compare with (e.g. the last main)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="also run --engine ray (needs the [ray] extra)")
    parser.add_argument("-e", "--explainer", action="append", default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for every variant: with 1, serial and workers use one thread per "
                             "process and agree to the bit (otherwise gradient maps differ in the last digits)")
    parser.add_argument("--extra", default="", help="more s2w benchmark arguments, e.g. '--fill black'")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    explainers = args.explainer or ["sim2word", "input-gradient"]
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="s2w-bench-bench-"))
    faces_dev = args.faces_dev.resolve() if (args.faces_dev / "pairs.csv").is_file() else None  # absolute: the list is written elsewhere
    pairs = pair_list(faces_dev, args.pairs, scratch)
    n = sum(1 for _ in open(pairs)) - 1
    common = ["benchmark", "--pairs", str(pairs), *[x for e in explainers for x in ("-e", e)], *args.extra.split()]
    variants: dict[str, tuple[Path | None, list[str]]] = {}
    if args.before:
        old = scratch / "before"
        subprocess.run(["git", "clone", "-q", str(REPO), str(old)], check=True)
        subprocess.run(["git", "-C", str(old), "checkout", "-q", args.before], check=True)
        variants[f"before ({args.before})"] = (old, [])
    variants["serial"] = (None, [])
    variants[f"--workers {args.workers}"] = (None, ["--workers", str(args.workers)])
    if args.ray:
        variants[f"--engine ray --workers {args.workers}"] = (None, ["--engine", "ray", "--workers", str(args.workers)])
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.repeats):
        for i, (name, (path, extra)) in enumerate(variants.items()):
            out = scratch / f"out-{i}-{round_}"
            cache = ["--cache", str(scratch / f"cache-{i}-{round_}")] if path is None else []  # a cold cache
            times[name].append(run(path, [*common, "--out", str(out), *cache, *extra]))
            print(f"round {round_ + 1}: {name}: {times[name][-1]:.1f} s", file=sys.stderr)
    reference = next(iter(variants))
    table = Table(title=f"s2w benchmark on {n} pairs ({len(set(open(pairs).read().split()))} distinct lines), "
                        f"{' + '.join(explainers)}; {os.cpu_count()} CPUs")
    for column in ("variant", "median s", "spread s", "pairs/s", f"x {reference}"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    result = {"pairs": n, "explainers": explainers, "variants": {}}
    base = statistics.median(times[reference])
    for name, values in times.items():
        med = statistics.median(values)
        table.add_row(name, f"{med:.1f}", f"{min(values):.1f}-{max(values):.1f}", f"{n / med:.3f}", f"{base / med:.2f}")
        result["variants"][name] = {"seconds": values, "pairs_per_second": n / med, "speed_up": base / med}
    Console().print(table)
    from s2w_toolkit.bench.compare import row_differences
    from s2w_toolkit.bench.store import read_rows

    serial = list(variants).index("serial")
    rows = {name: read_rows(scratch / f"out-{i}-0" / "results.jsonl") for i, name in enumerate(variants)}
    for name in list(variants)[serial + 1:]:
        diff = row_differences(rows["serial"], rows[name])
        result["variants"][name]["differences"] = diff
        print(f"{name} against serial: {'the same rows' if not diff else f'{len(diff)} differences, e.g. {diff[0]}'}"
              f" ({len(rows[name])} rows, 1e-6)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
