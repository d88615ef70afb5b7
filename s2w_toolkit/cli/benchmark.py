"""``s2w benchmark``: several explainers on the same pairs, measured the same way."""

from __future__ import annotations

import csv
import json

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import S2WError
from .console import err_console
from .explain import writable_folder

PERCENTS = ("1", "5", "10", "25", "50")
COLUMNS = ("pairs", "deletion_auc", "random_deletion_auc", "insertion_auc", "random_insertion_auc",
           "seconds_per_pair", "forward_passes")


@click.group(invoke_without_command=True)
@click.option("--pairs", "pairs_source", default=None,
              help="LFW pairs.txt, a CSV (a,b,same) or a folder of identity folders (default: the bundled pairs).")
@click.option("--root", default=None, help="Folder the pair paths are relative to (LFW's image folder).")
@click.option("--explainer", "-e", "names", multiple=True, default=("sim2word", "input-gradient"), show_default=True)
@click.option("--out", "out_dir", default="s2w-bench", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Keep results.jsonl and skip the pairs already done.")
@click.option("--steps", type=click.IntRange(min=2), default=20, show_default=True, help="Deletion/insertion steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Use at most this many pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling pairs from a folder.")
@click.option("--shard", default=None, metavar="I/N", help="Run only shard I of N of the pair list.")
@click.option("--backbone", default="dlib-resnet", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default="auto", show_default=True)
@click.pass_context
def benchmark(ctx, pairs_source, root, names, out_dir, resume, steps, batch_size, count, seed, shard, backbone,
              weights, device) -> None:
    """Compare explainers on a pair list: deletion/insertion AUC with a random control, Sim2Word's
    AUC drop, xSSAB pixel replacement, and cost. Writes RESULTS/results.jsonl (streamed),
    summary.csv, summary.md and plots, and prints the summary table.
    ``s2w benchmark merge DIR... --out DIR`` combines shards."""
    if ctx.invoked_subcommand:
        return
    from ..attributes.composite import load_attributes
    from ..bench.pairs import parse_shard, read_pairs, shard as take_shard
    from ..bench.runner import run_benchmark, summarise
    from ..pipeline import load_backbone
    from ..registry import get_registry

    for name in names:
        get_registry().explainer(name)  # unknown names fail before any work
    pairs = read_pairs(pairs_source, root, count=count, seed=seed)
    if shard:
        pairs = take_shard(pairs, *parse_shard(shard))
    folder = writable_folder(out_dir)
    net = load_backbone(backbone, weights=weights, device=device)
    attributes = load_attributes(device=str(net.device)) if any(
        get_registry().explainer(n).uses_attributes for n in names) else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err_console, transient=True)
    with progress:
        tasks = {name: progress.add_task(name, total=len(pairs)) for name in names}
        run_benchmark(pairs, list(names), net, folder, resume=resume, steps=steps, batch_size=batch_size,
                      attributes=attributes, on_pair=lambda name, spec: progress.advance(tasks[name]))
    summary = summarise(folder)
    _report(summary, folder, f"s2w benchmark: {len(pairs)} pairs, {net.name}")


@benchmark.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder of the merged results.")
def merge(folders, out_dir) -> None:
    """Combine the results of shards (or any runs) into one results.jsonl and summary."""
    from pathlib import Path

    from ..bench.runner import RESULTS, read_results, summarise

    files = [Path(f) / RESULTS for f in folders]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise S2WError(f"{missing[0]}: no results to merge")
    folder = writable_folder(out_dir)
    rows = read_results(files)
    with open(folder / RESULTS, "w") as stream:
        for group in rows.values():
            for row in group:
                stream.write(json.dumps(row) + "\n")
    summary = summarise(folder)
    pairs = len({row["key"] for group in rows.values() for row in group})
    _report(summary, folder, f"s2w benchmark merge: {len(folders)} runs, {pairs} pairs")


def _report(summary: dict, folder, title: str) -> None:
    from ..bench.plots import write_plots

    _write(summary, folder)
    plots = write_plots(summary, folder)
    console = Console()
    console.print(_table(summary, title))
    console.print(f"wrote {folder / 'results.jsonl'}, summary.csv, summary.md, " + ", ".join(plots),
                  highlight=False, soft_wrap=True)


def _write(summary: dict, folder) -> None:
    with open(folder / "summary.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("explainer",) + COLUMNS)
        for name, row in summary.items():
            writer.writerow((name,) + tuple(row[c] for c in COLUMNS))
    lines = ["| explainer | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for name, row in summary.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.4g}" for c in COLUMNS) + " |")
    lines += ["", "FMR / FNMR at the backbone's threshold after replacing p% of the pixels with the other face's:", "",
              "| explainer | strategy | " + " | ".join(f"p={p}" for p in PERCENTS) + " |",
              "|" + " --- |" * (len(PERCENTS) + 2)]
    for name, row in summary.items():
        for strategy, per_p in row["replacement"].items():
            cells = [f"{per_p[p]['fmr']:.3f} / {per_p[p]['fnmr']:.3f}" if p in per_p else "" for p in PERCENTS]
            lines.append(f"| {name} | {strategy} | " + " | ".join(cells) + " |")
    drop = summary.get("sim2word", {}).get("auc_drop")
    if drop:
        lines += ["", "Sim2Word AUC drop: original " + f"{drop['auc_original']:.4f}, after {drop['auc_after']:.4f}, "
                  f"drop {drop['drop']:.4f}"]
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))


def _table(summary: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("explainer")
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for name, row in summary.items():
        table.add_row(name, *(f"{row[c]:.4g}" for c in COLUMNS))
    return table
