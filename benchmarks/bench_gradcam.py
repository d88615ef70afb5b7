"""The s2w-gradcam plugin's ``gradcam`` explainer against a hand-written Grad-CAM, in one run.

pytorch-grad-cam (PyPI ``grad-cam``) is not compared: its newest release, 1.5.7, declares
``Requires-Dist: torchvision>=0.13`` (and opencv-python-headless, ttach, scikit-learn, scipy,
tqdm), and ``import pytorch_grad_cam`` imports torchvision and cv2 at once. torchvision is not
installed in this environment and is not to be installed, so the library cannot run here.
``--check-pypi`` downloads the newest ``grad-cam`` (``pip download --no-deps``) and prints its
declared requirements, to check that finding again.

Instead, on the default backbone and the bundled obama / biden pair, both sides of the pair:

* ``plugin``: ``get_registry().explainer("gradcam")().explain(pair, net)``: Captum's
  ``LayerGradCam`` of ``S(x) = cos(embed(x), embed(other))`` at ``backbone.cam_layer``, with the
  other face's embedding detached; bilinear upsampling; min-max per map. It also computes the
  pair's score and fills in its metadata;
* ``hook``: the same Grad-CAM written by hand: the pair's embeddings in one no-grad batch (the
  score and the two targets), then per side a forward hook on ``backbone.cam_layer`` to keep
  its output A, ``torch.autograd.grad`` of the similarity to the other face's detached
  embedding with respect to A, ``relu(sum_k mean_ij(dS/dA_k) A_k)``, bilinear upsampling
  (``align_corners=False``) and min-max;

It prints medians over ``--repeats`` runs (after a warm-up), the ratios plugin / hook, and the
largest absolute difference between the two maps of each side (they should agree to float
rounding) and between the two scores.

    python benchmarks/bench_gradcam.py [--repeats 20] [--device cpu] [--check-pypi]
"""

from __future__ import annotations

import argparse
import email
import importlib.util
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.capture import recording
from s2w_toolkit.data import demo_image
from s2w_toolkit.registry import get_registry
from timing import median_seconds  # benchmarks/timing.py, next to this script

FINDING = ("pytorch-grad-cam not compared: grad-cam 1.5.7 requires torchvision>=0.13 (Requires-Dist), "
           "and importing pytorch_grad_cam imports torchvision and cv2; torchvision is not installed here.")


def min_max(heat: torch.Tensor) -> torch.Tensor:
    """Scale a map to [0, 1]; a flat map becomes 0."""
    low, high = heat.min(), heat.max()
    return (heat - low) / (high - low) if high > low else torch.zeros_like(heat)


def hook_gradcam(net, pair) -> tuple[float, dict[str, torch.Tensor]]:
    """Grad-CAM of each face's similarity to the other, by hand: ``(score, {"a": map, "b": map})``."""
    with torch.no_grad():
        units = net.embed(torch.cat([pair.a, pair.b]))
        score = float((units[0] * units[1]).sum())
    layer, maps = net.cam_layer, {}
    for side, x, target in (("a", pair.a, units[1:]), ("b", pair.b, units[:1])):
        with recording({"cam": layer}) as seen, torch.enable_grad():
            similarity = (net.embed(x) * target).sum()
            (grads,) = torch.autograd.grad(similarity, seen["cam"][0])
        activations = seen["cam"][0].detach()
        weights = grads.mean(dim=(2, 3), keepdim=True)
        heat = F.relu((weights * activations).sum(dim=1, keepdim=True))
        heat = F.interpolate(heat, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
        maps[side] = min_max(heat[0, 0])
    return score, maps


def pypi_requirements() -> tuple[str, list[str]]:
    """``pip download --no-deps grad-cam`` into a temporary folder: its file name and Requires-Dist."""
    with tempfile.TemporaryDirectory(prefix="s2w-grad-cam-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "grad-cam", "-d", tmp],
                       check=True)
        (path,) = Path(tmp).iterdir()
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
                text = wheel.read(name).decode()
        else:
            with tarfile.open(path) as sdist:
                member = min((m for m in sdist.getmembers() if m.name.endswith("/PKG-INFO")),
                             key=lambda m: m.name.count("/"))
                text = sdist.extractfile(member).read().decode()
    return path.name, email.message_from_string(text).get_all("Requires-Dist") or []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--check-pypi", action="store_true",
                        help="download the newest grad-cam (no dependencies) and print its requirements")
    args = parser.parse_args()
    console = Console()

    if args.check_pypi:
        name, requires = pypi_requirements()
        console.print(f"{name} Requires-Dist: {', '.join(requires)}")
        if any(r.split(">")[0].split("=")[0].split("<")[0].strip().lower() == "torchvision" for r in requires):
            console.print("[bold]it requires torchvision[/]")
    installed = importlib.util.find_spec("pytorch_grad_cam") is not None
    console.print(f"[bold yellow]{FINDING}[/]" + (" (pytorch_grad_cam is installed, but this script does not "
                                                   "drive it.)" if installed else ""))

    net = load_backbone(args.backbone, weights=args.weights, device=args.device)
    pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    explainer = get_registry().explainer("gradcam")()

    explanation = explainer.explain(pair, net)
    score, maps = hook_gradcam(net, pair)
    differences = {side: float(np.abs(np.asarray(explanation.maps[side], dtype=np.float64)
                                      - maps[side].cpu().double().numpy()).max()) for side in ("a", "b")}
    timings = {
        "plugin: gradcam explainer (Captum)": median_seconds(lambda: explainer.explain(pair, net), args.repeats),
        "hook: hand-written Grad-CAM": median_seconds(lambda: hook_gradcam(net, pair), args.repeats),
    }
    plugin, hook = timings.values()

    layer = explanation.metadata["sides"]["a"]["layer"]
    table = Table(title=f"Grad-CAM of the similarity, obama / biden, both sides, {net.name} ({net.device}), "
                        f"layer {layer}, median of {args.repeats}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, seconds in timings.items():
        table.add_row(f"{name} (s)", f"{seconds:.4f}")
    table.add_row("[bold]plugin / hook[/]", f"[bold]{plugin / hook:.2f}x[/]")
    for side, difference in differences.items():
        table.add_row(f"max |map_{side} plugin - map_{side} hook|", f"{difference:.2e}")
    table.add_row("|score plugin - score hook|", f"{abs(explanation.score - score):.2e}")
    table.add_row("score (cosine similarity)", f"{score:.4f}")
    console.print(table)


if __name__ == "__main__":
    main()
