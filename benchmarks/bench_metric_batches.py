"""What sharing metric batches across pairs buys (``s2w benchmark --batch-pairs``).

1. The backbone's cost per image at several batch sizes (the reference is ``--batch-size``).
2. The benchmark's metric images of ``--pairs`` bundled pairs (deletion in both orders and
   replacement, both sides, one explainer; ``--fill black``, so that ROAD, which is the same
   work either way, does not hide the difference): scored pair by pair (each pair's requests
   together, as ``--batch-pairs 1``) against all pairs' requests in one stream (as
   ``--batch-pairs N``). Planning the images is the same work in both and is timed apart.

The variants alternate, ``--repeats`` rounds; medians, spread (min-max) and ratios are printed.

    python benchmarks/bench_metric_batches.py [--device cuda] [--pairs 4] [--repeats 5] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone
from s2w_toolkit.bench.batching import score_requests
from s2w_toolkit.bench.metrics import plan_deletion_insertion, plan_pixel_replacement
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.pipeline import load_pair


def _timed(fn, device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _alternate(variants: dict, repeats: int, device) -> dict[str, list[float]]:
    for fn in variants.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            times[name].append(_timed(fn, device))
    return times


def _requests(net, pairs: list, steps: int) -> list[list]:
    """Per pair, the requests of deletion (both orders) and replacement on both sides, centre-blob maps."""
    h, w = net.input_size
    yy, xx = np.mgrid[:h, :w]
    blob = np.exp(-(((yy - h / 2) / (h / 4)) ** 2 + ((xx - w / 2) / (w / 4)) ** 2))
    out = []
    for pair in pairs:
        units = torch.nn.functional.normalize(torch.cat([net(pair.a), net(pair.b)]), dim=1).detach()
        sides = ((pair.a, pair.image_a, pair.b, pair.image_b, units[1:]),
                 (pair.b, pair.image_b, pair.a, pair.image_a, units[:1]))
        requests = []
        for x, face, other_x, other_face, counter in sides:
            requests += plan_deletion_insertion(net, x, face, counter, blob, steps=steps, fill="black").requests
            requests += plan_pixel_replacement(net, x, face, other_x, other_face, counter, blob).requests
        out.append(requests)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    net = load_backbone(args.backbone, device=args.device)
    device = torch.device(args.device)
    console = Console()

    sizes = sorted({8, 16, 32, args.batch_size, 2 * args.batch_size})
    images = torch.randn(max(sizes), 3, *net.input_size, device=device)
    with torch.no_grad():
        per_batch = _alternate({n: (lambda n=n: net(images[:n])) for n in sizes}, args.repeats, device)
    reference = statistics.median(per_batch[args.batch_size]) / args.batch_size
    table = Table(title=f"{net.name} on {device}: cost per image by batch size")
    for column in ("batch", "ms per image (median)", "spread", f"ratio to batch {args.batch_size}"):
        table.add_column(column, justify="right")
    for n in sizes:
        each = [t / n * 1000 for t in per_batch[n]]
        table.add_row(str(n), f"{statistics.median(each):.3f}", f"{min(each):.3f}-{max(each):.3f}",
                      f"{statistics.median(each) / 1000 / reference:.2f}")
    console.print(table)

    specs = (read_pairs() * args.pairs)[:args.pairs]
    pairs = [load_pair(s.a, s.b, net) for s in specs]
    with torch.no_grad():
        start = time.perf_counter()
        per_pair = _requests(net, pairs, args.steps)
        planning = time.perf_counter() - start
        flat = [r for requests in per_pair for r in requests]
        variants = {"pair by pair (--batch-pairs 1)": lambda: [score_requests(r, args.batch_size) for r in per_pair],
                    f"shared (--batch-pairs {args.pairs})": lambda: score_requests(flat, args.batch_size)}
        times = _alternate(variants, args.repeats, device)
    count = sum(len(r) for r in flat)
    reference = statistics.median(times["pair by pair (--batch-pairs 1)"])
    table = Table(title=f"scoring {count} metric images of {args.pairs} pairs in chunks of {args.batch_size} "
                        f"(planning them: {planning:.2f} s, the same either way)")
    for column in ("variant", "seconds (median)", "spread", "ratio to pair by pair"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    for name, values in times.items():
        table.add_row(name, f"{statistics.median(values):.3f}", f"{min(values):.3f}-{max(values):.3f}",
                      f"{statistics.median(values) / reference:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
