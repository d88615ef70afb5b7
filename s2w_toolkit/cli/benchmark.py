"""``s2w benchmark``: several explainers on the same pairs, measured the same way.

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["benchmark", "--help"]).output.splitlines()[0]
    'Usage: cli benchmark [OPTIONS] [COMMAND] [ARGS]...'
"""

from __future__ import annotations

import click
from rich import box
from rich.table import Table
from rich.text import Text

from ..errors import S2WError
from .console import out_console, progress_bar, report_failure, report_note, styled
from ..io.folders import writable_folder
from .options import threshold_option

#: The scores the console table shows (all are in summary.md and summary.csv).
TABLE_SCORES = (("deletion_auc", "del"), ("insertion_auc", "ins"), ("replacement_best", "repl"))


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
@click.option("--fill", type=click.Choice(["road", "black", "mean", "blur", "noise"]), default="road",
              show_default=True, help="How the metrics remove pixels (road: ROAD's noisy linear imputation).")
@click.option("--sanity", is_flag=True, help="Also run the model-randomisation sanity check.")
@click.option("--sanity-pairs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Pairs the sanity check re-explains (half mates, half non-mates).")
@click.option("--sanity-levels", type=click.IntRange(min=1), default=4, show_default=True,
              help="Depths of the cascading randomisation (the last one randomises every layer).")
@click.option("--metric", "extra_metrics", multiple=True, metavar="NAME",
              help="An optional metric to add (see s2w plugins); repeatable.")
@click.option("--aligned", is_flag=True, help="The images are already aligned face crops: only resize them.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--batch-pairs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Pairs whose metric images go through the backbone together, in chunks of --batch-size.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Use at most this many pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling pairs from a folder.")
@click.option("--shard", default=None, metavar="I/N", help="Run only shard I of N of the pair list.")
@click.option("--cache", "cache_dir", default=None, type=click.Path(file_okay=False),
              help="Keep the aligned faces in this folder, so that a repeated or resumed run does not detect again.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (one GPU each with --device cuda when there are enough; else CPU cores split).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help='Where the workers run: this machine, or Ray actors (pip install "s2w-toolkit[ray]").')
@click.option("--address", default=None, help="With --engine ray: the cluster (auto or HOST:PORT; default: a new local one).")
@click.option("--game", "game_dir", default=None, type=click.Path(file_okay=False),
              help="Also play this swap game (from `s2w game build` on the same backbone): scores in OUT/game/.")
@click.option("--backbone", default="dlib-resnet", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default="auto", show_default=True)
@threshold_option
@click.pass_context
def benchmark(ctx, pairs_source, root, names, raw_options, out_dir, resume, overwrite, steps, fill, sanity,
              sanity_pairs, sanity_levels, extra_metrics, aligned, threshold, batch_size, batch_pairs, count, seed, shard,
              cache_dir, workers, engine, address, game_dir, backbone, weights, device) -> None:
    """Compare explainers on a pair list, per pair type, against the content-free controls
    ``random`` and ``centre`` (always run): deletion/insertion AUC with ROAD removal, xSSAB
    pixel replacement, Sim2Word's AUC drop with its control, the backbone's ROC/DET, cost, and
    with --sanity a model-randomisation check. Writes RESULTS/results.jsonl (streamed),
    summary.json/csv/md and plots, and prints the summary tables. A failing explainer or pair
    becomes an error row and the run goes on; the exit code is 1 if any row failed.
    ``s2w benchmark merge DIR... --out DIR`` combines shards."""
    if ctx.invoked_subcommand:
        return
    from ..bench.pairs import pair_list_id, parse_shard, read_pairs, shard as take_shard
    from ..bench.runner import select_metrics
    from ..explainers.control_names import with_controls
    from ..bench.store import locked
    from ..options import route_options
    from ..registry import get_registry
    from .explain import parse_key_values
    from .options import resolve_threshold

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if address and engine != "ray":
        raise click.UsageError("--address is for --engine ray")
    names = with_controls(names)  # the controls run in every benchmark
    classes = {name: get_registry().explainer(name) for name in names}  # unknown names fail before any work
    options = route_options(classes, parse_key_values(raw_options))
    pairs = read_pairs(pairs_source, root, count=count, seed=seed)
    pairs_id = pair_list_id(pairs_source, root=root, count=count, seed=seed)
    if shard:
        pairs = take_shard(pairs, *parse_shard(shard))
    metrics = {name: {} for name in extra_metrics}
    if sanity:
        metrics["sanity"] = {"pairs": sanity_pairs, "levels": sanity_levels}
    select_metrics(metrics)  # an unknown metric fails before any work
    if threshold is not None:
        resolve_threshold(threshold, backbone)  # and so does a bad --threshold
    if game_dir is not None:
        from ..game.score import read_game

        read_game(game_dir)  # and so does a folder that is not a game
    folder = writable_folder(out_dir)
    with locked(folder):  # from before the model loads until the summary is written
        _run(folder, pairs, pairs_id, names, classes, options, resume, overwrite, steps, batch_size, seed, backbone,
             weights, device, fill, metrics, threshold, aligned,
             {"cache": cache_dir, "workers": workers, "engine": engine, "address": address, "batch_pairs": batch_pairs},
             game_dir)


def _run(folder, pairs, pairs_id, names, classes, options, resume, overwrite, steps, batch_size, seed, backbone,
         weights, device, fill, metrics, threshold, aligned, spread, game_dir=None) -> None:
    from ..attributes.composite import load_attributes
    from ..bench.runner import run_benchmark
    from ..bench.summary import summarise
    from ..pipeline import load_backbone
    from .options import apply_threshold

    net = load_backbone(backbone, weights=weights, device=device)
    apply_threshold(net, threshold)
    attributes = load_attributes(device=str(net.device)) if any(c.uses_attributes for c in classes.values()) else None
    progress = progress_bar()

    def failed(row: dict) -> None:
        report_failure(f"pair {row['key']}, {row['explainer']} ({row['stage']}): {row['error']}", progress.console)

    with progress:
        tasks = {name: progress.add_task(name, total=len(pairs)) for name in names}
        counts = run_benchmark(pairs, names, net, folder, options=options, resume=resume, overwrite=overwrite,
                               steps=steps, batch_size=batch_size, seed=seed, pairs_id=pairs_id, attributes=attributes,
                               fill=fill, metrics=metrics, aligned=aligned, lock=False,
                               on_pair=lambda name, spec: progress.advance(tasks[name]), on_error=failed,
                               on_event=lambda message: report_note(message, progress.console),
                               **spread)
    summary = summarise(folder)
    _report(summary, folder, f"s2w benchmark: {len(pairs)} pairs, {net.name}")
    game_errors = 0
    if game_dir is not None:
        from .game import play_game

        game_errors = play_game(game_dir, folder / "game", names, classes, net, options, attributes, resume=resume,
                                overwrite=overwrite)
    _exit_status(summary, counts)
    if game_errors:
        raise S2WError(f"{game_errors} swap-game rows failed (in {folder / 'game' / 'scores.jsonl'}); --resume "
                       "retries them")


def _exit_status(summary: dict, counts: dict | None = None) -> None:
    """Raise (exit 1) when any row failed, or when no pair of this run could be loaded."""
    if counts and counts["pairs"] and counts["written"] and not counts["pairs_loaded"]:
        raise S2WError(f"none of the {counts['pairs']} pairs could be loaded; see the errors above")
    failed = {name: row["failed"] for name, row in summary["explainers"].items() if row["failed"]}
    if failed:
        listed = ", ".join(f"{name}: {n}" for name, n in failed.items())
        raise S2WError(f"{sum(failed.values())} result rows failed ({listed}); the others are in the summary, "
                       "and --resume retries the failed ones")
    metrics: dict[str, int] = {}
    for row in summary["explainers"].values():
        for metric, n in row.get("metric_errors", {}).items():
            metrics[metric] = metrics.get(metric, 0) + n
    if metrics:
        listed = ", ".join(f"{m}: {n} rows" for m, n in metrics.items())
        raise S2WError(f"metrics failed ({listed}); every other metric's numbers are in the summary, "
                       "and --resume retries those rows")


@benchmark.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder of the merged results.")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
def merge(folders, out_dir, overwrite) -> None:
    """Combine the results of shards (or any runs with the same settings) into one results.jsonl
    and summary; each (pair, explainer) once, whatever the order of the folders."""
    from pathlib import Path

    from ..bench.store import RESULTS, locked
    from ..bench.provenance import check_merged_results
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
        check_merged_results(files)  # and rows made from different photos under one image path
        write_text(held, "".join(dumps(row) + "\n" for row in rows))
        summary = summarise(folder)
        pairs = len({row["key"] for row in rows})
        _report(summary, folder, f"s2w benchmark merge: {len(folders)} runs, {pairs} pairs")
    _exit_status(summary)


def _report(summary: dict, folder, title: str) -> None:
    from ..bench.outputs import write_summary

    written = write_summary(summary, folder)
    console = out_console()
    for table in _tables(summary, title):
        console.print(table)
    console.print(f"wrote {folder / 'results.jsonl'}, " + ", ".join(written), highlight=False, soft_wrap=True)


def _cell(cell: dict | None) -> str:
    if not cell or cell.get("mean") is None:
        return "-"
    return f"{cell['mean']:.3f}" + {"lower": "↓", "higher": "↑"}.get(cell.get("better"), " ")


def _delta(cell: dict | None) -> Text | str:
    versus = (cell or {}).get("versus")
    if not versus or versus.get("difference") is None:
        return ""
    if versus.get("beats") is None:  # too few pairs for a claim either way
        return Text(f"{versus['difference']:+.3f}")
    mark = styled("✓", "green") if versus["beats"] else styled("✗", "red")
    return Text.assemble(f"{versus['difference']:+.3f}", mark)


def _tables(summary: dict, title: str) -> list[Table]:
    """One table per pair type (both sides pooled): each explainer's scores with their intervals,
    the difference against the best control, and whether it beats both."""
    from ..bench.builtin_metrics import PAIR_TYPES
    from ..bench.stats import MIN_PAIRS_FOR_CLAIM

    tables = []
    explainers = summary["explainers"]
    for kind in PAIR_TYPES:
        present = {n: e for n, e in explainers.items() if kind in e["results"] or (e["failed"] and not e["pairs"])}
        if not any(kind in e["results"] for e in present.values()):
            continue
        pairs = max(c["n"] for e in present.values() for c in e["results"].get(kind, {}).get("both", {}).values())
        table = Table(title=f"{title}: {kind}s ({pairs} pairs)", box=box.SIMPLE_HEAD, pad_edge=False,
                      caption="↓/↑: better; Δ: minus the best control, ✓ beats both controls (95% interval "
                              f"excludes 0; no ✓ or ✗ below {MIN_PAIRS_FOR_CLAIM} pairs); intervals and sides in "
                              "summary.md")
        table.add_column("explainer", max_width=24, overflow="fold")
        for _, label in TABLE_SCORES:
            table.add_column(label, justify="right", no_wrap=True)
            table.add_column("Δ", justify="right", no_wrap=True)
        table.add_column("err", justify="right")
        order = sorted(present.items(), key=lambda item: item[1]["role"] == "control")  # controls last
        for name, info in order:
            cells = info["results"].get(kind, {}).get("both", {})
            row = [name + (" (ctl)" if info["role"] == "control" else "")]
            for score, _ in TABLE_SCORES:
                row += [_cell(cells.get(score)), _delta(cells.get(score))]
            row.append(styled(info["failed"], "red") if info["failed"] else "0")
            table.add_row(*row)
        tables.append(table)
    sanity = {n: e["sanity"] for n, e in explainers.items() if e.get("sanity")}
    if sanity:
        tables.append(_sanity_table(sanity))
    verification = summary["run"].get("verification")
    if verification:
        tables.append(_verification_table(verification))
    return tables


def _sanity_table(sanity: dict) -> Table:
    table = Table(title="sanity check: agreement with the map under a fully randomised backbone",
                  box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="flagged: mean |Spearman| above 0.5, the map does not depend on the model")
    for column in ("explainer", "pairs", "|Spearman|", "SSIM", "flagged"):
        table.add_column(column, justify="left" if column == "explainer" else "right")
    for name, result in sanity.items():
        full = result["levels"][-1]
        table.add_row(name, str(full["spearman"]["n"]), f"{full['spearman']['mean']:.3f}", f"{full['ssim']['mean']:.3f}",
                      styled("yes", "red") if result["flagged"] else "no")
    return table


def _verification_table(result: dict) -> Table:
    from ..bench.report_markdown import verification_lines

    table = Table(title="the backbone on these pairs", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in verification_lines(result):
        table.add_row(key, value)
    return table
