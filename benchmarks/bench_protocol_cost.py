"""What the honest benchmark protocol costs: a whole `run_benchmark` with ROAD removal against the
same run with the black fill, alternated in one process, on the bundled pairs.

Both runs do the same explainers (input-gradient plus the two controls), the same metrics and
the same forward passes; they differ only in how removed pixels are filled, so the ratio is the
price of ROAD's imputation inside a real run. Rounds alternate the two so that machine load hits
both alike; the median ratio and its spread over rounds are printed.

    python benchmarks/bench_protocol_cost.py [--rounds 3] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from s2w_toolkit import load_backbone
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.runner import run_benchmark


def one_run(net, pairs, fill: str, steps: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_benchmark(pairs, ["input-gradient"], net, out, steps=steps, fill=fill)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    net = load_backbone("dlib-resnet", device="cpu")
    pairs = read_pairs()
    one_run(net, pairs[:1], "road", 2)  # warm-up: imports, first forward passes
    times: dict[str, list[float]] = {"road": [], "black": []}
    for i in range(args.rounds):
        for fill in (("road", "black") if i % 2 == 0 else ("black", "road")):
            times[fill].append(one_run(net, pairs, fill, args.steps))
    ratios = [r / b for r, b in zip(times["road"], times["black"])]
    rows = len(pairs) * 3
    print(f"{len(pairs)} pairs x 3 explainers ({rows} rows), {args.steps} steps, {args.rounds} alternated rounds")
    for fill, values in times.items():
        print(f"  {fill:5s}: median {statistics.median(values):6.2f} s per run, "
              f"{statistics.median(values) / rows * 1000:6.0f} ms per row  (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  road / black: median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
