"""Whole-process times of ``s2w verify`` and ``s2w explain`` against their floors, in one run.

Every command runs in a fresh interpreter, so each time includes Python's start-up, the imports,
the model loading and the writing of results: what a user waits for. After one warm-up run of
each, the commands of a comparison run alternately ``--repeats`` times; the script prints the
medians, the min..max spread and the ratios.

* ``s2w verify`` (bundled demo pair) against dlib's own pipeline on the same two photos: dlib's
  HOG detector, its 5-point shape predictor and its ResNet descriptor
  (``face_recognition_models``' files, found without importing its
  ``pkg_resources``-based ``__init__``), then the Euclidean distance. That is the floor of a
  verifier built on the same detector and network.
* ``s2w explain`` (default explainer, demo pair, figure and JSON written) against
  ``python -c "import torch"``. The explanation's own compute (Sim2Word's erasing and
  re-scoring) is not start-up, so it is timed as well, in one warm process, and the start-up
  overhead ``whole - explanation`` is compared with ``import torch`` too.

    python benchmarks/bench_cold_path.py [--repeats 5] [--only verify|explain]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

DLIB_PIPELINE = """
import sys
import importlib.util, os
import dlib, numpy as np
from PIL import Image
models = os.path.join(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0], "models")
detector = dlib.get_frontal_face_detector()
shape = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
net = dlib.face_recognition_model_v1(os.path.join(models, "dlib_face_recognition_resnet_model_v1.dat"))
codes = []
for path in sys.argv[1:3]:
    image = np.asarray(Image.open(path).convert("RGB"))
    box = detector(image, 1)[0]
    codes.append(np.array(net.compute_face_descriptor(image, shape(image, box))))
print(float(np.linalg.norm(codes[0] - codes[1])))
"""

EXPLANATION_ONLY = """
import time
from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import DEMO_PAIR, demo_image
from s2w_toolkit.registry import get_registry
net = load_backbone("dlib-resnet", device="cpu")
attributes = load_attributes(device="cpu")
pair = load_pair(str(demo_image(DEMO_PAIR[0])), str(demo_image(DEMO_PAIR[1])), net)
explainer = get_registry().explainer("sim2word")()
explainer(pair, net, attributes)  # warm-up
times = []
for _ in range(%d):
    start = time.perf_counter()
    explainer(pair, net, attributes)
    times.append(time.perf_counter() - start)
print(sorted(times)[len(times) // 2])
"""


def s2w() -> list[str]:
    script = Path(sys.executable).with_name("s2w")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from s2w_toolkit.cli.main import main; main()"]


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def alternate(commands: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    for command in commands.values():
        run_once(command)  # warm-up: the page cache, and a check that it runs
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(run_once(command))
    return times


def table(title: str, times: dict[str, list[float]], ratios: list[tuple[str, float]]) -> Table:
    out = Table(title=title)
    out.add_column("measure")
    out.add_column("median seconds", justify="right")
    out.add_column("min .. max", justify="right")
    for name, values in times.items():
        out.add_row(name, f"{statistics.median(values):.3f}", f"{min(values):.3f} .. {max(values):.3f}")
    for name, value in ratios:
        out.add_row(f"[bold]{name}[/]", f"[bold]{value:.2f}x[/]", "")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["verify", "explain"])
    args = parser.parse_args()
    from s2w_toolkit.data import DEMO_PAIR, demo_image

    photos = [str(demo_image(DEMO_PAIR[0])), str(demo_image(DEMO_PAIR[1]))]
    console = Console()
    if args.only in (None, "verify"):
        times = alternate({"s2w verify": s2w() + ["verify", *photos],
                           "dlib's pipeline": [sys.executable, "-c", DLIB_PIPELINE, *photos]}, args.repeats)
        median = {k: statistics.median(v) for k, v in times.items()}
        console.print(table(f"s2w verify, median of {args.repeats} alternated runs", times,
                            [("s2w verify / dlib's pipeline", median["s2w verify"] / median["dlib's pipeline"])]))
    if args.only in (None, "explain"):
        with tempfile.TemporaryDirectory() as out:
            times = alternate({"s2w explain": s2w() + ["explain", "--out", out],
                               'python -c "import torch"': [sys.executable, "-c", "import torch"]}, args.repeats)
        done = subprocess.run([sys.executable, "-c", EXPLANATION_ONLY % max(1, args.repeats // 2)],
                              capture_output=True, text=True, check=True)
        explanation = float(done.stdout.strip().splitlines()[-1])
        median = {k: statistics.median(v) for k, v in times.items()}
        torch_time = median['python -c "import torch"']
        console.print(table(f"s2w explain, median of {args.repeats} alternated runs", times, [
            ("s2w explain / import torch", median["s2w explain"] / torch_time),
            ("(s2w explain - the explanation) / import torch", (median["s2w explain"] - explanation) / torch_time)]))
        console.print(f"the explanation alone (warm, in-process, median): {explanation:.3f} s")


if __name__ == "__main__":
    main()
