"""What the swap game costs: building a case and scoring it with each explainer, as ratios to one
plain forward pass of the backbone, measured in the same run (the two alternated, the spread
over rounds reported).

- build, per case: the swaps (landmark transform and blend) and the batched embedding of a
  mate's cases, from faces already aligned and landmarked (detection and landmarks are per
  photo, reported apart); the reference is one forward pass of one face;
- score, per case and explainer: the explainer on the pair and the three scores of its map; the
  reference is one forward pass of the pair (two faces).

    python benchmarks/bench_game.py [--rounds 5] [-e input-gradient -e xssab ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.data import demo_image
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
from s2w_toolkit.game.regions import REGIONS
from s2w_toolkit.game.score import game_pair, score_case
from s2w_toolkit.game.swap import place_region
from s2w_toolkit.registry import get_registry
from s2w_toolkit.targets import unit_embeddings


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-e", "--explainer", dest="explainers", action="append",
                        default=None, help="explainers to time (default: the controls, input-gradient, xssab, "
                                           "gradcam, sim2word)")
    args = parser.parse_args()
    names = args.explainers or ["random", "centre", "input-gradient", "xssab", "gradcam", "sim2word"]
    torch.set_num_threads(2)
    net = load_backbone("dlib-resnet", device="cpu")
    photos = ("obama", "obama2", "biden")
    detect = []
    for _ in range(args.rounds):
        detect.append(_seconds(lambda: [load_face(demo_image(p), net) for p in photos]) / len(photos))
    faces = np.stack([load_face(demo_image(p), net)[0] for p in photos])
    landmark = [_seconds(lambda: aligned_landmarks(faces, net.template)) / len(photos) for _ in range(args.rounds)]
    points = aligned_landmarks(faces, net.template)
    probe, mate, donor = faces
    one = net.preprocess(faces[:1])
    two = net.preprocess(faces[:2])
    forward_one, forward_two, build = [], [], []

    def build_cases() -> None:  # 4 regions x (1 swap + 1 null), then one batch with probe and mate
        swaps = [place_region(mate, points[1], source, pts, region).image for region in REGIONS
                 for source, pts in ((donor, points[2]), (probe, points[0]))]
        unit_embeddings(net, net.preprocess(np.stack([probe, mate, *swaps])))

    for _ in range(args.rounds):  # alternated with the reference
        forward_one.append(_seconds(lambda: unit_embeddings(net, one)))
        build.append(_seconds(build_cases) / (2 * len(REGIONS)))
    swapped = place_region(mate, points[1], donor, points[2], "nose")
    pair = game_pair(net, mate, swapped.image)
    classes = {n: get_registry().explainer(n) for n in names}
    attributes = None
    if any(c.uses_attributes for c in classes.values()):
        from s2w_toolkit.attributes.composite import load_attributes

        attributes = load_attributes(device="cpu")
    score: dict[str, list[float]] = {n: [] for n in names}
    for n in names:
        score_case(pair, swapped.support, net, n, classes[n], {}, attributes)  # warm-up
    for _ in range(args.rounds):
        forward_two.append(_seconds(lambda: unit_embeddings(net, two)))
        for n in names:
            score[n].append(_seconds(lambda: score_case(pair, swapped.support, net, n, classes[n], {}, attributes)))
    f1, f2 = statistics.median(forward_one), statistics.median(forward_two)
    print(f"rounds {args.rounds}; forward of one face {f1 * 1000:.1f} ms, of a pair {f2 * 1000:.1f} ms")
    print(f"per photo: detection and alignment {_spread([d / f1 for d in detect])} forwards; "
          f"68 landmarks {_spread([d / f1 for d in landmark])} forwards")
    print(f"build, per case: {_spread([b / f for b, f in zip(build, forward_one)])} forwards of one face "
          f"({statistics.median(build) * 1000:.1f} ms)")
    for n in names:
        ratios = [s / f for s, f in zip(score[n], forward_two)]
        print(f"score, per case, {n}: {_spread(ratios)} forwards of the pair ({statistics.median(score[n]) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
