"""``s2w attributes train``: fit linear attribute heads on a frozen backbone, from your labels.

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["attributes", "train", "--help"]).output.splitlines()[0]
    'Usage: cli attributes train [OPTIONS]'
"""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.table import Table

from ..errors import LabelsError
from .console import err_console, progress_bar, report_warning


def _sources(labels: str | None, images: str | None, celeba: str | None) -> tuple[Path, Path]:
    if celeba:
        root = Path(celeba)
        return Path(labels) if labels else root / "list_attr_celeba.txt", Path(images) if images else (
            root / "img_align_celeba")
    if not labels:
        raise LabelsError("give --labels labels.csv (or CelebA's list_attr_celeba.txt), or --celeba DIR")
    labels_path = Path(labels)
    if images:
        return labels_path, Path(images)
    beside = labels_path.parent / "img_align_celeba"
    return labels_path, beside if beside.is_dir() else labels_path.parent


@click.command("train")
@click.option("--labels", default=None, type=click.Path(dir_okay=False),
              help="Labels CSV (a 'face' column + one column per attribute) or CelebA's list_attr_celeba.txt.")
@click.option("--images", default=None, type=click.Path(file_okay=False),
              help="Folder the faces' paths are relative to (default: beside --labels; "
                   "img_align_celeba/ there for CelebA).")
@click.option("--celeba", default=None, type=click.Path(file_okay=False),
              help="A CelebA folder: list_attr_celeba.txt, img_align_celeba/, and list_eval_partition.txt "
                   "for the official held-out split.")
@click.option("--out", "out_path", default="s2w-out/attribute-heads.pt", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the heads (a plain-tensor file).")
@click.option("--holdout", default=0.2, show_default=True, type=click.FloatRange(0, 0.9),
              help="Fraction of faces held out to measure accuracy (whole folders; CelebA: its test split).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split and the folds.")
@click.option("--flip/--no-flip", default=True, show_default=True, help="Also fit on mirrored training faces.")
@click.option("--min-per-class", default=2, show_default=True, type=click.IntRange(min=1),
              help="Training faces a class needs to be learnt; attributes with fewer than two such classes are skipped.")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Use only the first N labelled faces.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--backbone", default="dlib-resnet", show_default=True, help="The frozen backbone the heads read.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Checkpoint for the backbone.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--aligned", is_flag=True, help="Images are faces already cropped as the backbone expects.")
def train(labels, images, celeba, out_path, holdout, seed, flip, min_per_class, limit, batch_size, backbone, weights,
          device, aligned) -> None:
    """Fit one linear head per labelled attribute on the backbone's spatial features.

    Prints each head's held-out accuracy beside always answering the most common class, and
    writes a file for --attribute-weights (s2w attributes / s2w explain).
    """

    from ..attributes.labels import read_labels
    from ..attributes.training import extract_features, train_heads
    from ..pipeline import load_backbone
    from ..io.folders import writable_folder

    labels_path, images_dir = _sources(labels, images, celeba)
    table = read_labels(labels_path)
    if limit:
        table.faces, table.values = table.faces[:limit], table.values[:limit]
        table.partition = None if table.partition is None else table.partition[:limit]
    if not images_dir.is_dir():
        raise LabelsError(f"{images_dir}: no such images folder (give --images DIR)")
    writable_folder(str(Path(out_path).parent))
    net = load_backbone(backbone, weights=weights, device=device)
    progress = progress_bar()
    with progress:
        task = progress.add_task("reading faces", total=len(table.faces))
        features = extract_features(table, images_dir, net, aligned, flip, batch_size,
                                    progress=lambda n: progress.advance(task, n))
    if features.failures:
        report_warning(f"skipped {len(features.failures)} of {len(table.faces)} faces (first: {features.failures[0]})")
    model, reports = train_heads(table, features, net, holdout, seed, min_per_class)
    model.save(out_path, backbone_weights=weights)
    err_console.print(_report(reports, labels_path.name, net.name))
    click.echo(f"wrote {out_path} ({len(model.heads)} heads on {net.name}); use it with "
               f"--attributes linear-heads --attribute-weights {out_path}")


def _report(reports, source: str, backbone: str) -> Table:
    from ..bench.stats import wilson

    table = Table(title=f"linear heads on {backbone}, from {source}")
    for column in ("attribute", "classes", "train", "cv accuracy", "held out", "accuracy [95% CI]",
                   "most common class", "L2"):
        # the word is what a reader looks for: the other columns wrap first in a narrow terminal
        table.add_column(column, justify="left" if column in ("attribute", "classes") else "right",
                         no_wrap=column == "attribute")
    for r in reports:
        if r.skipped:
            table.add_row(r.name, ", ".join(r.classes), str(r.train), "", str(r.held_out), f"skipped ({r.skipped or 'no faces'})",
                          "", "")
            continue
        if r.held_out:
            low, high = wilson(round(r.accuracy * r.held_out), r.held_out)
            accuracy = f"{r.accuracy:.0%} [{low:.0%}, {high:.0%}]"
        else:
            accuracy = "no held-out faces"
        cv = "" if math.isnan(r.cv_accuracy) else f"{r.cv_accuracy:.0%}"
        base = "" if math.isnan(r.majority) else f"{r.majority:.0%}"
        table.add_row(r.name, ", ".join(r.classes), str(r.train), cv, str(r.held_out), accuracy, base, f"{r.penalty:g}")
    return table
