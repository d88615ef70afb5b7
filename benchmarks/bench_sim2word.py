"""Sim2Word speed against its compute floor and against the research code's loop, in one run.

On the default backbone and the bundled demo pair (or --backbone/--weights and two images),
with the default settings (``--placements K`` controls, ``--stability`` perturbed copies) and
with the official ones (``Settings.official()``):

* ``explanation``: a full ``run_sim2word``, attribute model loaded;
* ``floor``: what any correct implementation must do, without the bookkeeping: with stability,
  perturbing the photos and finding and aligning the faces again; the identity maps of every
  face (one forward and one batched backward pass, the contrastive target included); with the
  ``integrated`` H_d, its path's 8 points of every face forward and backward in one batch; the
  attribute model on every face; and one batched forward pass, in chunks of the batch size and
  in the re-scoring's memory layout (channels-last on CPU), over as many images as the
  explanation pushed (its distinct erased images and controls: no implementation can score an
  image it does not build);
* ``loop``: the same algorithm as the research code runs it: one full backward pass per
  identity map (and per point of the integrated H_d's path), the attribute model called face
  by face, and each erased image (every attribute, every placement) built in pixels,
  preprocessed and scored alone (batch size 1).
  Every placement is drawn (no sequential stop), of the photo's words only (a perturbed copy
  erases its own words), and its s_j and control cosines are compared with the batched full
  draw's (``sequential=False``).

It runs every measure once per round, ``--repeats`` rounds after a warm-up (so a load that
comes and goes on a shared machine hits them alike), and prints the median seconds and the
medians (and ranges) over rounds of the ratios explanation / floor and loop / explanation.

    python benchmarks/bench_sim2word.py [--repeats 5] [--device cpu] [--placements K] [--stability K]
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
from s2w_toolkit.cam import gradcam, normalise_maps
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import DEMO_PAIR, demo_image
from s2w_toolkit.sim2word.core import Settings, attribute_masks, run_sim2word
from s2w_toolkit.fills import fill_images
from s2w_toolkit.sim2word.identity import (
    counterfactual_map,
    features_and_embeddings,
    identity_cams,
)
from s2w_toolkit.sim2word.counterfactual import STEPS, pixel_map
from s2w_toolkit.sim2word.placements import face_region, random_placements
from s2w_toolkit.sim2word.stability import perturbed_pairs


#: The H_d estimates that follow a path of gradients, and their points per direction.
PATH_STEPS = {"integrated": STEPS, "gradient": 1}


def per_attribute_loop(net, pair, attributes, settings: Settings) -> list[float]:
    """Sim2Word the straightforward way, as research code runs it: no batching anywhere. For each
    direction (and each perturbed copy, with ``stability``): one full backward pass per identity
    map (H_t, H_f, and the contrastive target), the attribute model on that face alone, and each
    erased image (every attribute, every placement of an eligible one) built in pixels,
    preprocessed and scored alone (and, with both faces erased, its erased counter face). Returns, per direction of the original pair and attribute,
    s_j then its K control cosines."""
    copies = [np.stack([pair.image_a, pair.image_b])]
    if settings.stability and settings.placements:
        copies += [faces for _, faces, _ in perturbed_pairs(pair, net, settings.stability, settings.seed)]
    region = face_region(net.template, copies[0].shape[1:3])
    scores = []
    for copy, faces in enumerate(copies):
        inputs = [net.preprocess(face) for face in faces]
        with torch.no_grad():
            units = [F.normalize(net(x), dim=1) for x in inputs]
        for t, f in ((0, 1), (1, 0)):
            row = 2 * copy + t  # the direction's row in the batched run: its placements' seeds
            maps = []
            targets = [units[t], units[f]] + ([units[t] - units[f]] if settings.counterfactual == "contrastive"
                                              else [])
            if settings.counterfactual in PATH_STEPS:  # the path's points one by one, batch size 1
                fills = net.preprocess(fill_images(faces[t][None], "blur" if settings.fill == "road" else settings.fill,
                                                   settings.seed))
                steps = PATH_STEPS[settings.counterfactual]
                grads = torch.zeros_like(inputs[t])
                for alpha in ([1.0] if steps == 1 else [(k + 0.5) / steps for k in range(steps)]):
                    point = (fills + alpha * (inputs[t] - fills)).detach().requires_grad_(True)
                    (grad,) = torch.autograd.grad((net(point) * (units[t] - units[f])).sum(), point)
                    grads += grad / steps
                h_pixels = pixel_map(((inputs[t] - fills) * grads).sum(dim=1))[0]
            for target in targets:  # one full backward pass per identity map
                features, emb = features_and_embeddings(net, inputs[t])
                score = (emb * target).sum(dim=1, keepdim=True)
                cam = F.interpolate(gradcam(features, score), size=faces[t].shape[:2], mode="bilinear",
                                    align_corners=False)
                maps.append(normalise_maps(cam.clamp_min(0))[0, 0])
            if settings.counterfactual in PATH_STEPS:
                h_d = h_pixels
            else:
                h_d = maps[2] if len(maps) == 3 else counterfactual_map(maps[0][None], maps[1][None])[0]
            prediction = attributes.predict(faces[t][None], net.template)  # one face at a time
            fill = fill_images(faces[t][None], settings.fill, settings.seed)[0]
            counter_fill = fill_images(faces[f][None], settings.fill, settings.seed)[0]
            first: dict[bytes, int] = {}  # an eligible mask repeated on a side shares its placements
            for j in range(prediction.a):
                attr = prediction.maps[0, j].to(h_d.device)[None, None]
                mask = attribute_masks(h_d[None, None] * attr, attr, settings)[0, 0]
                eligible = bool(prediction.eligible[0, j])
                owner = first.setdefault(mask.cpu().numpy().tobytes(), j) if eligible and mask.any() else j
                rng = np.random.default_rng((settings.seed, row, owner))
                # the photo's words are placed at random; a perturbed copy erases its own words only
                placed = random_placements(mask, region, settings.placements, rng, settings.control_overlap) \
                    if eligible and copy == 0 else []
                for m in [mask, *placed]:
                    erased = faces[t].copy()
                    m = m.cpu().numpy()
                    erased[m] = fill[m]
                    with torch.no_grad():
                        counter = units[f]
                        if settings.erases_both:  # the counter face erased alike, embedded alone too
                            other = faces[f].copy()
                            other[m] = counter_fill[m]
                            counter = net.embed(net.preprocess(other))
                        value = float((net.embed(net.preprocess(erased)) * counter).sum())
                    if copy == 0:
                        scores.append(value)
    return scores


def batched_scores(result) -> list[float]:
    return [v for d in result.directions for row in d.rows for v in [row["s"], *row["control_s"]]]


def make_floor(net, pair, attributes, images: int, settings: Settings):
    """What any correct implementation must do: with ``stability``, perturb the photos and find
    and align the faces again; the identity maps of every face (one forward and one backward
    pass); the attribute model on every face; and one batched forward pass, in chunks of the
    batch size and channels-last on CPU as the re-scoring is, over ``images`` images."""
    x = torch.cat([pair.a, pair.b])
    faces = np.stack([pair.image_a, pair.image_b])
    batch = x.repeat((images + 1) // 2, 1, 1, 1)[:images]
    if batch.device.type == "cpu":
        batch = batch.contiguous(memory_format=torch.channels_last)
    contrastive = settings.counterfactual == "contrastive"

    def floor():
        every, inputs = faces, x
        if settings.stability and settings.placements:
            extra = np.concatenate([f for _, f, _ in perturbed_pairs(pair, net, settings.stability, settings.seed)])
            every = np.concatenate([faces, extra])
            inputs = torch.cat([x, net.preprocess(extra)])
        identity_cams(net, inputs, contrastive=contrastive)
        if settings.counterfactual in PATH_STEPS:  # every point of every direction's path, forward and backward
            path = inputs.repeat_interleave(PATH_STEPS[settings.counterfactual], dim=0).detach().requires_grad_(True)
            torch.autograd.grad(net(path).sum(), path)
        attributes.predict(every, net.template)
        with torch.no_grad():
            for start in range(0, images, settings.batch_size):
                net(batch[start:start + settings.batch_size])

    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="two photos (default: the bundled demo pair)")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--attributes", default=None, help="attribute models (default: age-gender,face-parts)")
    parser.add_argument("--placements", type=int, default=Settings().placements)
    parser.add_argument("--stability", type=int, default=Settings().stability)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = args.images or [str(demo_image(n)) for n in DEMO_PAIR]
    torch.set_grad_enabled(True)
    net = load_backbone(args.backbone, weights=args.weights, device=args.device)
    pair = load_pair(paths[0], paths[1], net)
    attributes = load_attributes(args.attributes, device=str(net.device))
    settings = Settings(placements=args.placements, stability=args.stability)
    official = Settings.official()

    fns, counts, floors = {}, [], {}
    for label, s in (("default", settings), ("official", official)):
        result = run_sim2word(net, pair, attributes, s)
        counts.append(f"{label}: {result.forward_images} erased images")
        fns[f"explanation, {label}"] = lambda s=s: run_sim2word(net, pair, attributes, s)
        fns[f"floor, {label}"] = make_floor(net, pair, attributes, result.forward_images, s)
        floors[f"explanation, {label}"] = f"floor, {label}"
        loop_scores = per_attribute_loop(net, pair, attributes, s)  # every placement, as the full draw
        full = run_sim2word(net, pair, attributes, dataclasses.replace(s, sequential=False))
        gap = float(np.max(np.abs(np.array(loop_scores) - np.array(batched_scores(full)))))
        counts[-1] += f" (loop agrees to {gap:.1e})"
        fns[f"loop, {label}"] = lambda s=s: per_attribute_loop(net, pair, attributes, s)
    times = interleaved_seconds(fns, args.repeats)
    table = Table(title=f"Sim2Word on {net.name} ({net.device}), {attributes.name}; " + "; ".join(counts))
    table.add_column("measure")
    table.add_column("median seconds", justify="right")
    for name, seconds in times.items():
        table.add_row(name, f"{statistics.median(seconds):.4f}")
    for name, floor in floors.items():
        label = name.split(", ")[1]
        table.add_row(f"{name} / floor", f"{_ratio(times[name], times[floor]):.2f}x "
                                         f"[{min(t / b for t, b in zip(times[name], times[floor])):.2f}, "
                                         f"{max(t / b for t, b in zip(times[name], times[floor])):.2f}]")
        table.add_row(f"loop / {name}", f"{_ratio(times[f'loop, {label}'], times[name]):.2f}x")
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
