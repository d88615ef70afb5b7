"""Sim2Word's cost on the demo pair: erased images and seconds of the default explanation against
the default of an earlier revision (run from a git worktree of it) and the official settings,
alternated in one run.

Each measure runs in its own interpreter (the models loaded, one warm-up explanation, then one
timed ``run_sim2word`` on the demo pair with ``dlib-resnet`` and the default attribute models),
in the order reference, default, official, ``--rounds`` times, so that a load that comes and goes
hits them alike. Prints the images each pushed through the backbone, the median seconds (and the
range), and per round the ratio default / reference.

    python benchmarks/cost_sim2word.py [--reference 610542b] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

SNIPPET = """
import json, sys, time
from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import DEMO_PAIR, demo_image
from s2w_toolkit.sim2word.core import Settings, run_sim2word
net = load_backbone("dlib-resnet", device="cpu")
pair = load_pair(demo_image(DEMO_PAIR[0]), demo_image(DEMO_PAIR[1]), net)
attributes = load_attributes()
settings = Settings.official() if sys.argv[1] == "official" else Settings()
run_sim2word(net, pair, attributes, settings)
start = time.perf_counter()
result = run_sim2word(net, pair, attributes, settings)
seconds = time.perf_counter() - start
words = [[r["attribute"] for r in d.words()] for d in result.directions]
print(json.dumps({"images": result.forward_images, "seconds": seconds, "words": words}))
"""

ROOT = Path(__file__).resolve().parents[1]


def measure(tree: Path, which: str) -> dict:
    """One explanation in a fresh interpreter with ``tree`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", SNIPPET, which], cwd=tree, env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="610542b", help="the earlier revision whose default is the reference")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder) / "reference"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.reference],
                       check=True, capture_output=True)
        try:
            runs: dict[str, list[dict]] = {"reference": [], "default": [], "official": []}
            for _ in range(args.rounds):
                runs["reference"].append(measure(worktree, "default"))
                runs["default"].append(measure(ROOT, "default"))
                runs["official"].append(measure(ROOT, "official"))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)
    table = Table(title=f"Sim2Word on the demo pair, {args.rounds} rounds alternated (dlib-resnet, CPU)")
    for column in ("settings", "erased images", "seconds (median, range)", "words named"):
        table.add_column(column)
    for name, label in (("reference", f"default at {args.reference}"), ("default", "default now"),
                        ("official", "official")):
        seconds = [r["seconds"] for r in runs[name]]
        table.add_row(label, str(runs[name][0]["images"]),
                      f"{statistics.median(seconds):.2f} ({min(seconds):.2f}-{max(seconds):.2f})",
                      str(runs[name][0]["words"]))
    Console(width=140).print(table)
    ratios = [d["seconds"] / r["seconds"] for d, r in zip(runs["default"], runs["reference"])]
    images = runs["default"][0]["images"] / runs["reference"][0]["images"]
    print(f"default now / default at {args.reference}: images {images:.2f}, seconds per round "
          f"{', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
