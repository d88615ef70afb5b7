"""ROAD noisy linear imputation against the black fill, per 150x150 face, in one run.

The masks are those of deletion/insertion curves (``--steps`` steps, so ``steps + 1`` fractions
from 0 to 100 %), for two pixel orders: ``blobs``, most salient first for a smooth random
saliency map (white noise blurred with a Gaussian of sigma ``--sigma`` pixels, ties broken by a
seeded permutation, as ``s2w_toolkit.bench.metrics`` ranks pixels), and ``scattered``, a seeded
random order. Each order gives a deletion mask (the first k pixels removed) and an insertion mask
(all but the first k removed) per fraction: ``4 (steps + 1)`` masks per face, 84 by default.
The face is the bundled ``obama.jpg``, centre-cropped and resized to ``--size``.

* ``black``: what the benchmark does today, the erased images built where the backbone reads
  them, ``x * (1 - m) + fill * m`` on a preprocessed ``(1, 3, H, W)`` tensor with the masks
  ``(M, 1, H, W)`` converted to its dtype (torch, CPU);
* ``road``: ``road_impute(face, masks, noise=0.01, seed=0)``, all masks of a batch in one call
  (it runs them on a thread pool, one thread per core it may use; ``--cores`` restricts that).

Per mask family, the two are timed alternately ``--repeats`` times after a warm-up (so that drift
in the machine's load hits both alike); the script prints medians per face, their min .. max,
and the ratio road / black (of the medians, and the range of the per-repeat ratios). It also
checks ROAD against the reference code's way to solve, ``spsolve`` of the same system with
SuperLU's default ordering, on every 7th mask: the largest difference and that solver's time.
``--orderings`` also times, on one thread and mask after mask, that call, SuperLU with its
minimum-degree ordering of A + A^T, and road.py's nested-dissection numbering.

    python benchmarks/bench_road.py [--repeats 5] [--steps 20] [--size 150] [--cores N] [--orderings]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import scipy.sparse as sp
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from scipy.ndimage import gaussian_filter
from scipy.sparse.linalg import splu, spsolve

from s2w_toolkit.road import _solve, road_impute
from s2w_toolkit.data import demo_image


def curve_masks(order: np.ndarray, shape: tuple[int, int], steps: int) -> np.ndarray:
    """Deletion and insertion masks ``(2 (steps + 1), H, W)`` of a pixel order (first = removed first)."""
    n = order.size
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    counts = [(k * n + steps // 2) // steps for k in range(steps + 1)]
    deleted = np.stack([rank < c for c in counts]).reshape(-1, *shape)
    return np.concatenate([deleted, ~deleted])


def reference_solve(face: np.ndarray, mask: np.ndarray, permc_spec: str = "COLAMD") -> np.ndarray:
    """The removed pixels (raster order) as the reference code solves them: ``spsolve`` (SuperLU)
    with its default column ordering, COLAMD, on the same system built independently of road.py."""
    h, w = mask.shape
    pos = np.flatnonzero(mask)
    index = np.full(h * w, -1)
    index[pos] = np.arange(pos.size)
    ys, xs = np.divmod(pos, w)
    rows, cols, vals = [], [], []
    diag, rhs = np.zeros(pos.size), np.zeros((pos.size, 3))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                yy, xx = ys + dy, xs + dx
                ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
                weight = 1 / 12 if dy and dx else 1 / 6
                diag[ok] += weight
                nb = index[yy[ok] * w + xx[ok]]
                removed = nb >= 0
                rows.append(np.flatnonzero(ok)[removed])
                cols.append(nb[removed])
                vals.append(np.full(removed.sum(), -weight))
                rhs[np.flatnonzero(ok)[~removed]] += weight * face.reshape(-1, 3)[(yy * w + xx)[ok][~removed]]
    a = sp.coo_matrix((np.concatenate(vals + [diag]), (np.concatenate(rows + [np.arange(pos.size)]),
                                                        np.concatenate(cols + [np.arange(pos.size)]))),
                      shape=(pos.size, pos.size))
    if permc_spec == "COLAMD":
        return spsolve(a.tocsc(), rhs)
    return splu(a.tocsc(), permc_spec=permc_spec, diag_pivot_thresh=0.0, options={"SymmetricMode": True}).solve(rhs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--sigma", type=float, default=10.0, help="blur of the random saliency map, pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=None, help="restrict this process to that many cores")
    parser.add_argument("--orderings", action="store_true",
                        help="also time, one mask after another on one thread, SuperLU with the orderings it has")
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.cores]))
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)

    image = Image.open(demo_image("obama")).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    face = np.array(image.crop((left, top, left + side, top + side)).resize((args.size, args.size)))
    shape = face.shape[:2]
    rng = np.random.default_rng(args.seed)
    saliency = gaussian_filter(rng.standard_normal(shape), args.sigma).ravel()
    shuffle = rng.permutation(saliency.size)
    families = {
        "blobs": curve_masks(shuffle[np.argsort(-saliency[shuffle], kind="stable")], shape, args.steps),
        "scattered": curve_masks(rng.permutation(saliency.size), shape, args.steps),
    }

    x = (torch.from_numpy(face).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.5  # a preprocessed face
    fill = torch.full_like(x, -1.0)  # the preprocessed black fill

    def black(m: torch.Tensor) -> torch.Tensor:
        m = m[:, None].to(x.dtype)
        return x * (1 - m) + fill * m

    times: dict[str, dict[str, list[float]]] = {}
    for family, masks in families.items():
        tensor = torch.from_numpy(masks)
        black(tensor), road_impute(face, masks)  # warm-up (and the size's cached ordering)
        times[family] = {"black": [], "road": []}
        for _ in range(args.repeats):
            for name, run in (("black", lambda: black(tensor)), ("road", lambda: road_impute(face, masks))):
                start = time.perf_counter()
                run()
                times[family][name].append((time.perf_counter() - start) / len(masks))
    times["all"] = {name: [sum(times[f][name][r] * len(families[f]) for f in families)
                           / sum(len(m) for m in families.values()) for r in range(args.repeats)]
                    for name in ("black", "road")}

    check = np.concatenate(list(families.values()))[::7]
    check = [m for m in check if 0 < m.sum() < m.size]
    start = time.perf_counter()
    solved = [reference_solve(face.astype(np.float64), m) for m in check]
    reference_ms = (time.perf_counter() - start) / len(check) * 1e3
    ours = road_impute(face, np.stack(check), noise=0)
    difference = max(float(np.abs(o[m] - s).max()) for o, m, s in zip(ours, check, solved))

    count = {f: len(m) for f, m in families.items()} | {"all": sum(len(m) for m in families.values())}
    table = Table(title=f"ROAD imputation vs black fill, {args.size}x{args.size} face, {args.steps} steps, "
                        f"{cores} core(s), median of {args.repeats} (alternated, after a warm-up)")
    table.add_column("masks")
    table.add_column("black ms/face", justify="right")
    table.add_column("road ms/face", justify="right")
    table.add_column("road min .. max", justify="right")
    table.add_column("road / black", justify="right")
    table.add_column("per-repeat ratio", justify="right")
    for family, t in times.items():
        b, r = statistics.median(t["black"]), statistics.median(t["road"])
        ratios = [rr / bb for rr, bb in zip(t["road"], t["black"])]
        table.add_row(f"{family} ({count[family]})", f"{b * 1e3:.3f}", f"{r * 1e3:.2f}",
                      f"{min(t['road']) * 1e3:.2f} .. {max(t['road']) * 1e3:.2f}", f"[bold]{r / b:.0f}x[/]",
                      f"{min(ratios):.0f} .. {max(ratios):.0f}")
    Console().print(table)
    Console().print(f"reference-style spsolve (default ordering, 1 thread) on {len(check)} of the masks: "
                    f"{reference_ms:.1f} ms/face; max |road - spsolve| = {difference:.1e} grey levels")
    if args.orderings:
        masks = [m for m in np.concatenate(list(families.values())) if 0 < m.sum() < m.size]
        padded = np.pad(face.astype(np.float64), ((1, 1), (1, 1), (0, 0))).reshape(-1, 3)
        solvers = {"spsolve, COLAMD (the reference's call)": lambda m: reference_solve(face, m),
                   "splu, MMD on A + A^T, symmetric mode": lambda m: reference_solve(face, m, "MMD_AT_PLUS_A"),
                   "splu, nested dissection (road.py), 1 thread": lambda m: _solve(m, padded)}
        table = Table(title=f"SuperLU orderings, the {len(masks)} masks that need a solve, one after another")
        table.add_column("solver")
        table.add_column("ms per mask", justify="right")
        for name, solver in solvers.items():
            start = time.perf_counter()
            for m in masks:
                solver(m)
            table.add_row(name, f"{(time.perf_counter() - start) / len(masks) * 1e3:.1f}")
        Console().print(table)


if __name__ == "__main__":
    main()
