"""``s2w benchmark``: several explainers on the same pairs, measured the same way."""

from __future__ import annotations

import csv
import io

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import S2WError
from .console import err_console
from .explain import writable_folder

PERCENTS = ("1", "5", "10", "25", "50")
COLUMNS = ("pairs", "failed", "deletion_auc", "random_deletion_auc", "insertion_auc", "random_insertion_auc",
           "seconds_per_pair", "forward_passes")


@click.group(invoke_without_command=True)
@click.option("--pairs", "pairs_source", default=None,
              help="LFW pairs.txt, a CSV (a,b,same) or a folder of identity folders (default: the bundled pairs).")
@click.option("--root", default=None, help="Folder the pair paths are relative to (LFW's image folder).")
@click.option("--explainer", "-e", "names", multiple=True, default=("sim2word", "input-gradient"), show_default=True)
@click.option("--option", "-o", "raw_options", multiple=True, metavar="KEY=VALUE",
              help="An explainer option, sent to the explainers that declare it; repeatable.")
@click.option("--out", "out_dir", default="s2w-bench", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Continue the run in --out: skip its finished rows, retry its errors.")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option("--steps", type=click.IntRange(min=2), default=20, show_default=True, help="Deletion/insertion steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Use at most this many pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling pairs from a folder.")
@click.option("--shard", default=None, metavar="I/N", help="Run only shard I of N of the pair list.")
@click.option("--backbone", default="dlib-resnet", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default="auto", show_default=True)
@click.pass_context
def benchmark(ctx, pairs_source, root, names, raw_options, out_dir, resume, overwrite, steps, batch_size, count, seed,
              shard, backbone, weights, device) -> None:
    """Compare explainers on a pair list: deletion/insertion AUC with a random control, Sim2Word's
    AUC drop, xSSAB pixel replacement, and cost. Writes RESULTS/results.jsonl (streamed),
    summary.csv, summary.md and plots, and prints the summary table. A failing explainer or pair
    becomes an error row and the run goes on; the exit code is 1 if any row failed.
    ``s2w benchmark merge DIR... --out DIR`` combines shards."""
    if ctx.invoked_subcommand:
        return
    from ..bench.pairs import pair_list_id, parse_shard, read_pairs, shard as take_shard
    from ..bench.store import locked
    from ..options import route_options
    from ..registry import get_registry
    from .explain import parse_key_values

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    names = list(dict.fromkeys(names))
    classes = {name: get_registry().explainer(name) for name in names}  # unknown names fail before any work
    options = route_options(classes, parse_key_values(raw_options))
    pairs = read_pairs(pairs_source, root, count=count, seed=seed)
    pairs_id = pair_list_id(pairs_source, root=root, count=count, seed=seed)
    if shard:
        pairs = take_shard(pairs, *parse_shard(shard))
    folder = writable_folder(out_dir)
    with locked(folder):  # from before the model loads until the summary is written
        _run(folder, pairs, pairs_id, names, classes, options, resume, overwrite, steps, batch_size, seed, backbone,
             weights, device)


def _run(folder, pairs, pairs_id, names, classes, options, resume, overwrite, steps, batch_size, seed, backbone,
         weights, device) -> None:
    from ..attributes.composite import load_attributes
    from ..bench.runner import run_benchmark
    from ..bench.summary import summarise
    from ..pipeline import load_backbone

    net = load_backbone(backbone, weights=weights, device=device)
    attributes = load_attributes(device=str(net.device)) if any(c.uses_attributes for c in classes.values()) else None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err_console, transient=True)

    def failed(row: dict) -> None:
        progress.console.print(f"[red]error:[/] pair {row['key']}, {row['explainer']} ({row['stage']}): {row['error']}",
                               markup=True, soft_wrap=True)

    with progress:
        tasks = {name: progress.add_task(name, total=len(pairs)) for name in names}
        counts = run_benchmark(pairs, names, net, folder, options=options, resume=resume, overwrite=overwrite,
                               steps=steps, batch_size=batch_size, seed=seed, pairs_id=pairs_id, attributes=attributes,
                               lock=False, on_pair=lambda name, spec: progress.advance(tasks[name]), on_error=failed)
    summary = summarise(folder)
    _report(summary, folder, f"s2w benchmark: {len(pairs)} pairs, {net.name}")
    _exit_status(summary, counts)


def _exit_status(summary: dict, counts: dict | None = None) -> None:
    """Raise (exit 1) when any row failed, or when no pair of this run could be loaded."""
    if counts and counts["pairs"] and counts["written"] and not counts["pairs_loaded"]:
        raise S2WError(f"none of the {counts['pairs']} pairs could be loaded; see the errors above")
    failed = {name: row["failed"] for name, row in summary.items() if row["failed"]}
    if failed:
        listed = ", ".join(f"{name}: {n}" for name, n in failed.items())
        raise S2WError(f"{sum(failed.values())} result rows failed ({listed}); the others are in the summary, "
                       "and --resume retries the failed ones")


@benchmark.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder of the merged results.")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
def merge(folders, out_dir, overwrite) -> None:
    """Combine the results of shards (or any runs with the same settings) into one results.jsonl
    and summary; each (pair, explainer) once, whatever the order of the folders."""
    from pathlib import Path

    from ..bench.store import RESULTS, locked
    from ..bench.summary import read_results, summarise
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    files = [Path(f) / RESULTS for f in folders]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise S2WError(f"{missing[0]}: no results to merge")
    folder = writable_folder(out_dir)
    target = (folder / RESULTS).resolve()
    with locked(folder):
        held = folder / RESULTS
        if held.is_file() and held.stat().st_size and not overwrite and target not in {f.resolve() for f in files}:
            raise S2WError(f"{folder} already holds benchmark results; use --overwrite to replace them, "
                           "or another --out")
        rows = read_results(files)  # refuses runs with different settings
        write_text(held, "".join(dumps(row) + "\n" for row in rows))
        summary = summarise(folder)
        pairs = len({row["key"] for row in rows})
        _report(summary, folder, f"s2w benchmark merge: {len(folders)} runs, {pairs} pairs")
    _exit_status(summary)


def _report(summary: dict, folder, title: str) -> None:
    from ..bench.plots import write_plots

    _write(summary, folder)
    plots = write_plots(summary, folder)
    console = Console()
    console.print(_table(summary, title))
    console.print(f"wrote {folder / 'results.jsonl'}, summary.csv, summary.md, " + ", ".join(plots),
                  highlight=False, soft_wrap=True)


def _cell(value) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3g}"


def _write(summary: dict, folder) -> None:
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(("explainer",) + COLUMNS)
    for name, row in summary.items():
        writer.writerow((name,) + tuple(row.get(c, "") for c in COLUMNS))
    lines = ["| explainer | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for name, row in summary.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(c)) for c in COLUMNS) + " |")
    lines += ["", "FMR / FNMR at the backbone's threshold after replacing p% of the pixels with the other face's:", "",
              "| explainer | strategy | " + " | ".join(f"p={p}" for p in PERCENTS) + " |",
              "|" + " --- |" * (len(PERCENTS) + 2)]
    for name, row in summary.items():
        for strategy, per_p in row.get("replacement", {}).items():
            cells = [f"{per_p[p]['fmr']:.3f} / {per_p[p]['fnmr']:.3f}" if p in per_p else "" for p in PERCENTS]
            lines.append(f"| {name} | {strategy} | " + " | ".join(cells) + " |")
    drop = summary.get("sim2word", {}).get("auc_drop")
    if drop:
        lines += ["", "Sim2Word AUC drop: original " + f"{drop['auc_original']:.4f}, after {drop['auc_after']:.4f}, "
                  f"drop {drop['drop']:.4f}"]
    write_text(folder / "summary.csv", text.getvalue())
    write_text(folder / "summary.md", "\n".join(lines) + "\n")
    write_text(folder / "summary.json", dumps(summary, indent=1))


#: Short column labels, so the table fits 80 columns with two explainers' names.
LABELS = {"pairs": "pairs", "failed": "fails", "deletion_auc": "del AUC", "random_deletion_auc": "rand del",
          "insertion_auc": "ins AUC", "random_insertion_auc": "rand ins", "seconds_per_pair": "sec",
          "forward_passes": "fwd"}


def _table(summary: dict, title: str) -> Table:
    table = Table(title=title, caption="del/ins: deletion/insertion; rand: random-order control; fails: error rows; "
                                       "sec, fwd: seconds and images through the backbone per pair")
    table.add_column("explainer", no_wrap=True)
    for column in COLUMNS:
        table.add_column(LABELS[column], justify="right")
    for name, row in summary.items():
        table.add_row(name, *(_cell(row.get(c)) if c != "failed" or not row[c] else f"[red]{row[c]}[/]"
                              for c in COLUMNS))
    return table
