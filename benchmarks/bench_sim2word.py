"""Sim2Word speed against its compute floor and against a per-attribute loop, in one run.

On the default backbone and the bundled demo pair (or --backbone/--weights and two images):

* ``explanation``: a full ``run_sim2word`` (identity maps, attribute model, erasing and
  re-scoring of every attribute in both directions), attribute model already loaded;
* ``floor``: a plain batched forward pass (``embed``, no grad) over the same number of images
  the explanation pushes through the backbone (the erased images plus the pair);
* ``loop``: the same algorithm written the straightforward way, as the research code runs it:
  one Grad-CAM backward pass per identity map, the attribute model called face by face, and
  each erased image built in pixels, preprocessed and scored alone (batch size 1).

It prints medians over ``--repeats`` runs (after a warm-up) and the ratios
explanation / floor and loop / explanation.

    python benchmarks/bench_sim2word.py [--repeats 5] [--device cpu] [--attributes age-gender,face-parts]
"""

from __future__ import annotations

import argparse

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
from s2w_toolkit.sim2word.identity import counterfactual_map, features_and_embeddings
from timing import median_seconds  # benchmarks/timing.py, next to this script


def per_attribute_loop(net, pair, attributes, settings: Settings) -> list[float]:
    """Sim2Word the straightforward way: no batching anywhere."""
    faces = [pair.image_a, pair.image_b]
    inputs = [pair.a, pair.b]
    units = [F.normalize(net(x).detach(), dim=1) for x in inputs]
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
        for j in range(prediction.a):
            joint = (h_d * prediction.maps[0, j].to(h_d.device))[None, None]
            mask = erase_masks(joint, settings.erase_threshold, settings.dilate)[0, 0].cpu().numpy()
            erased = faces[t].copy()
            erased[mask] = fill_images(faces[t][None], settings.fill, settings.seed)[0][mask]
            with torch.no_grad():
                scores.append(float((net.embed(net.preprocess(erased)) * units[f]).sum()))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="two photos (default: the bundled demo pair)")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--attributes", default=None, help="attribute models (default: age-gender,face-parts)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = args.images or [str(demo_image(n)) for n in DEMO_PAIR]
    torch.set_grad_enabled(True)
    net = load_backbone(args.backbone, weights=args.weights, device=args.device)
    pair = load_pair(paths[0], paths[1], net)
    attributes = load_attributes(args.attributes, device=str(net.device))
    settings = Settings()

    result = run_sim2word(net, pair, attributes, settings)
    images = result.forward_images + 2
    batch = torch.cat([pair.a, pair.b]).repeat((images + 1) // 2, 1, 1, 1)[:images]
    loop_scores = per_attribute_loop(net, pair, attributes, settings)
    fast_scores = [row["s"] for d in result.directions for row in d.rows]
    agreement = float(np.max(np.abs(np.array(loop_scores) - np.array(fast_scores))))

    def floor():
        with torch.no_grad():
            net.embed(batch)

    timings = {
        "explanation": median_seconds(lambda: run_sim2word(net, pair, attributes, settings), args.repeats),
        "floor": median_seconds(floor, args.repeats),
        "loop": median_seconds(lambda: per_attribute_loop(net, pair, attributes, settings), args.repeats),
    }
    table = Table(title=f"Sim2Word on {net.name} ({net.device}), {attributes.name}, "
                        f"{result.forward_images} erased images + the pair")
    table.add_column("measure")
    table.add_column("median seconds", justify="right")
    for name, seconds in timings.items():
        table.add_row(name, f"{seconds:.4f}")
    table.add_row("explanation / floor", f"{timings['explanation'] / timings['floor']:.2f}x")
    table.add_row("loop / explanation", f"{timings['loop'] / timings['explanation']:.2f}x")
    table.add_row("max |s_j loop - s_j batched|", f"{agreement:.2e}")
    Console().print(table)


if __name__ == "__main__":
    main()
