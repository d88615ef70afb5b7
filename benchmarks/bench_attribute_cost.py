"""Cost of the attribute models on a batch of faces, per face, against one forward pass of the
backbone on the same faces, measured in the same run.

The faces are the four demo portraits aligned to the backbone's template, repeated to ``--batch``
faces. Each round times, in turn: the backbone's forward pass on the batch (no gradients: the
reference a verification already pays), then each attribute model's ``predict`` on the same batch
(words, values and evidence maps, as Sim2Word calls it). Rounds alternate the order of the
models, and the figure is the median over rounds with the spread (lowest and highest round).
Ratios are per round (model time / forward time of that round), so a slow round moves both.

    python benchmarks/bench_attribute_cost.py [--batch 16] [--rounds 5] [--backbone dlib-resnet]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import demo_image

MODELS = ("mediapipe", "faceres", "face-geometry", "mediapipe,faceres,face-geometry", "age-gender,face-parts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backbone", default="dlib-resnet")
    args = parser.parse_args()
    net = load_backbone(args.backbone, device="cpu")
    demo = [load_face(demo_image(n), net)[0] for n in ("obama", "obama2", "obama3", "biden")]
    faces = np.stack([demo[i % 4] for i in range(args.batch)])
    x = net.preprocess(faces)
    models = {name: load_attributes(name) for name in MODELS}

    def forward() -> None:
        with torch.no_grad():
            net(x)

    runs = {"forward": forward, **{name: (lambda m=m: m.predict(faces, net.template)) for name, m in models.items()}}
    for fn in runs.values():  # warm-up
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else [names[0], *reversed(names[1:])]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - start)
    per_face = {name: [s / args.batch * 1000 for s in values] for name, values in seconds.items()}
    table = Table(title=f"attribute models on {args.batch} faces, {args.rounds} rounds, {torch.get_num_threads()} "
                        f"threads; reference: one {args.backbone} forward pass")
    for column in ("model", "ms per face (median)", "spread (rounds)", "x one forward pass (median)", "spread"):
        table.add_column(column)
    for name, values in per_face.items():
        ratios = [v / f for v, f in zip(values, per_face["forward"])]
        table.add_row(name, f"{statistics.median(values):.1f}", f"{min(values):.1f}-{max(values):.1f}",
                      f"{statistics.median(ratios):.2f}", f"{min(ratios):.2f}-{max(ratios):.2f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
