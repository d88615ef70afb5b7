"""Sim2Word's validity figure: on non-mate pairs, the share of directions where erasing the
top-ranked attribute raises the similarity above the original (Sim2Word's "valid" attribute).

By default every pair of the bundled demo portraits that the backbone calls non-mate, both
directions; or give a folder of face photos (every non-mate pair among them is used).

    python benchmarks/validity_sim2word.py [FOLDER] [--attributes age-gender,face-parts] [-o fill=blur]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from rich.console import Console
from rich.table import Table

from s2w_toolkit import load_backbone, load_pair
from s2w_toolkit.attributes.composite import load_attributes
from s2w_toolkit.data import demo_image
from s2w_toolkit.sim2word.explainer import Sim2WordExplainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="face photos (default: the bundled demo portraits)")
    parser.add_argument("--backbone", default="dlib-resnet")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--attributes", default=None)
    parser.add_argument("-o", "--option", action="append", default=[], help="sim2word option KEY=VALUE")
    args = parser.parse_args()
    if args.folder:
        photos = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    else:
        photos = [demo_image(n) for n in ("obama", "obama2", "obama3", "biden")]
    net = load_backbone(args.backbone, weights=args.weights, device="cpu")
    attributes = load_attributes(args.attributes)
    explainer = Sim2WordExplainer(**dict(item.split("=", 1) for item in args.option))
    table = Table(title=f"Sim2Word validity on non-mate pairs ({net.name}, {attributes.name})")
    for column in ("pair", "direction", "cosine", "top word", "s_j", "valid"):
        table.add_column(column)
    valid = total = 0
    for a, b in itertools.combinations(photos, 2):
        explanation = explainer.explain(load_pair(a, b, net), net, attributes)
        if explanation.same_person:
            continue
        for side in ("a", "b"):
            top = next((w for w in explanation.words if w.details["side"] == side), None)
            total += 1
            is_valid = bool(top and top.details["valid"])
            valid += is_valid
            table.add_row(f"{Path(a).stem} / {Path(b).stem}", side, f"{explanation.score:.4f}",
                          top.text if top else "-", f"{top.details['cosine']:.4f}" if top else "-", str(is_valid))
    console = Console()
    console.print(table)
    share = valid / total if total else float("nan")
    console.print(f"validity: {valid} of {total} directions ({share:.0%}) raise the similarity when their "
                  f"top-ranked attribute is erased")


if __name__ == "__main__":
    main()
