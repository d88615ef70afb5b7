"""Sim2Word speed against its compute floor and against a per-attribute loop, in one run.

On the default backbone and the bundled demo pair (or --backbone/--weights and two images),
with ``--placements K`` random-placement controls (default: the Settings default) and with
none (the official algorithm):

* ``explanation``: a full ``run_sim2word`` (identity maps, attribute model, erasing and
  re-scoring of every attribute, real and placed, in both directions), attribute model loaded;
* ``floor``: what any correct implementation must do, without the bookkeeping: the identity
  maps of the pair (one forward and one backward pass), the attribute model on both faces, and
  one batched forward pass, in chunks of the batch size and in the same memory layout as the
  re-scoring (channels-last on CPU), over the images that cannot be skipped. That count is
  worked out here from the joint maps, not taken from the explanation: per side, every distinct
  non-empty mask, once at its place and K times at other places (a mask repeated on a side
  shares its placements), so ``D (1 + K)`` images for D distinct masks. The explanation's own
  count is printed beside it;
* ``loop``: the same algorithm written the straightforward way, as the research code runs it:
  one Grad-CAM backward pass per identity map, the attribute model called face by face, and
  each erased image (every attribute, every placement) built in pixels, preprocessed and
  scored alone (batch size 1).

It runs every measure once per round, ``--repeats`` rounds after a warm-up (so a load that
comes and goes on a shared machine hits them alike), and prints the median seconds, the
medians over rounds of the ratios explanation / floor and loop / explanation, and the largest
gap between the loop's s_j and control cosines and the batched ones.

    python benchmarks/bench_sim2word.py [--repeats 5] [--device cpu] [--attributes age-gender,face-parts]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.attributes.cam import gradcam, normalise_maps
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import DEMO_PAIR, demo_image
from s2w_toolkit.sim2word.core import Settings, run_sim2word
from s2w_toolkit.sim2word.erase import erase_masks, fill_images
from s2w_toolkit.sim2word.identity import (
    counterfactual_map,
    features_and_embeddings,
    identity_maps,
)
from s2w_toolkit.sim2word.placements import face_region, random_placements


def per_attribute_loop(net, pair, attributes, settings: Settings) -> list[float]:
    """Sim2Word the straightforward way: no batching anywhere. Returns, per direction and
    attribute, s_j then its K control cosines."""
    faces = [pair.image_a, pair.image_b]
    inputs = [pair.a, pair.b]
    units = [F.normalize(net(x).detach(), dim=1) for x in inputs]
    region = face_region(net.template, faces[0].shape[:2])
    scores = []
    for t, f in ((0, 1), (1, 0)):
        maps = []
        for target in (units[t], units[f]):  # H_t, then H_f: one backward pass each
            features, emb = features_and_embeddings(net, inputs[t])
            score = (emb * target).sum(dim=1, keepdim=True)
            cam = F.interpolate(gradcam(features, score), size=faces[t].shape[:2], mode="bilinear",
                                align_corners=False)
            maps.append(normalise_maps(cam.clamp_min(0))[0, 0])
        h_d = counterfactual_map(maps[0][None], maps[1][None])[0]
        prediction = attributes.predict(faces[t][None], net.template)  # one face at a time
        fill = fill_images(faces[t][None], settings.fill, settings.seed)[0]
        first: dict[bytes, int] = {}  # a repeated mask shares the placements of its first copy
        for j in range(prediction.a):
            joint = (h_d * prediction.maps[0, j].to(h_d.device))[None, None]
            mask = erase_masks(joint, settings.erase_threshold, settings.dilate)[0, 0]
            owner = first.setdefault(mask.cpu().numpy().tobytes(), j)
            rng = np.random.default_rng((settings.seed, t, owner))
            placed = random_placements(mask, region, settings.placements, rng)
            for m in [mask, *placed]:
                erased = faces[t].copy()
                m = m.cpu().numpy()
                erased[m] = fill[m]
                with torch.no_grad():
                    scores.append(float((net.embed(net.preprocess(erased)) * units[f]).sum()))
    return scores


def batched_scores(result) -> list[float]:
    return [v for d in result.directions for row in d.rows for v in [row["s"], *row["control_s"]]]


def floor_images(result, settings: Settings) -> int:
    """Erased images no correct implementation can skip: per side, each distinct non-empty mask
    at its place and at ``placements`` other places."""
    joint = torch.stack([d.joint for d in result.directions])
    masks = erase_masks(joint, settings.erase_threshold, settings.dilate).flatten(2)
    distinct = sum(len({m.numpy().tobytes() for m in side if m.any()}) for side in masks)
    return distinct * (1 + settings.placements)


def make_floor(net, pair, attributes, images: int, batch_size: int):
    x = torch.cat([pair.a, pair.b])
    faces = np.stack([pair.image_a, pair.image_b])
    batch = x.repeat((images + 1) // 2, 1, 1, 1)[:images]
    if batch.device.type == "cpu":
        batch = batch.contiguous(memory_format=torch.channels_last)

    def floor():
        identity_maps(net, x)
        attributes.predict(faces, net.template)
        with torch.no_grad():
            for start in range(0, images, batch_size):
                net(batch[start:start + batch_size])

    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="two photos (default: the bundled demo pair)")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--attributes", default=None, help="attribute models (default: age-gender,face-parts)")
    parser.add_argument("--placements", type=int, default=Settings().placements)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = args.images or [str(demo_image(n)) for n in DEMO_PAIR]
    torch.set_grad_enabled(True)
    net = load_backbone(args.backbone, weights=args.weights, device=args.device)
    pair = load_pair(paths[0], paths[1], net)
    attributes = load_attributes(args.attributes, device=str(net.device))
    settings = Settings(placements=args.placements)
    official = dataclasses.replace(settings, placements=0, rank_by="similarity")

    fns, counts, floors = {}, [], {}
    for s in (settings, official):
        label = f"placements={s.placements}"
        result = run_sim2word(net, pair, attributes, s)
        needed = floor_images(result, s)
        counts.append(f"{label}: {result.forward_images} erased images ({needed} unskippable)")
        fns[f"explanation, {label}"] = lambda s=s: run_sim2word(net, pair, attributes, s)
        fns[f"floor, {label}"] = make_floor(net, pair, attributes, needed, s.batch_size)
        floors[f"explanation, {label}"] = f"floor, {label}"
        if s is settings:
            loop_scores = per_attribute_loop(net, pair, attributes, s)
            agreement = float(np.max(np.abs(np.array(loop_scores) - np.array(batched_scores(result)))))
            fns["loop"] = lambda s=s: per_attribute_loop(net, pair, attributes, s)
    times = interleaved_seconds(fns, args.repeats)
    table = Table(title=f"Sim2Word on {net.name} ({net.device}), {attributes.name}; " + "; ".join(counts))
    table.add_column("measure")
    table.add_column("median seconds", justify="right")
    for name, seconds in times.items():
        table.add_row(name, f"{statistics.median(seconds):.4f}")
    for name, floor in floors.items():
        table.add_row(f"{name} / floor", f"{_ratio(times[name], times[floor]):.2f}x")
    main_label = f"explanation, placements={settings.placements}"
    table.add_row(f"loop / {main_label}", f"{_ratio(times['loop'], times[main_label]):.2f}x")
    table.add_row("max |loop - batched| over s_j and control_s", f"{agreement:.2e}")
    Console().print(table)


def interleaved_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of every function, ``repeats`` rounds after one warm-up round; each round runs
    them all in turn, so a load that comes and goes on a shared machine hits them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return times


def _ratio(top: list[float], bottom: list[float]) -> float:
    """The median over rounds of the per-round ratio."""
    return statistics.median(t / b for t, b in zip(top, bottom))


if __name__ == "__main__":
    main()
