"""``s2w audit``: which pairs does a face matcher get wrong, why, and for whom?

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["audit", "--help"]).output.splitlines()[0]
    'Usage: cli audit [OPTIONS]'
"""

from __future__ import annotations

import click
from rich.table import Table

from ..errors import S2WError
from .console import out_console, progress_bar, report_failure, report_warning
from ..io.folders import writable_folder
from .options import threshold_option


@click.command()
@click.option("--pairs", "pairs_source", default=None,
              help="LFW pairs.txt, a CSV (a,b,same), an insightface .bin or a folder of identity folders "
                   "(default: the bundled pairs).")
@click.option("--root", default=None, help="Folder the pair paths are relative to.")
@click.option("--explainer", "-e", "names", multiple=True, default=("sim2word",), show_default=True,
              help="Explainers run on the errors and their contrast pairs; repeatable.")
@click.option("--option", "-o", "raw_options", multiple=True, metavar="KEY=VALUE",
              help="An explainer option, sent to the explainers that declare it; repeatable.")
@click.option("--out", "out_dir", default="s2w-audit", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Continue the audit in --out: keep its rows, retry its errors.")
@click.option("--overwrite", is_flag=True, help="Replace the audit already in --out.")
@threshold_option
@click.option("--fmr", type=float, default=None,
              help="Calibrate the threshold on these pairs for this false match rate (the report says so).")
@click.option("--errors", type=click.IntRange(min=0), default=20, show_default=True,
              help="Worst false matches and worst false non-matches to explain (each).")
@click.option("--near", type=click.IntRange(min=0), default=3, show_default=True,
              help="Pairs nearest the threshold to explain on each side.")
@click.option("--contrast", type=click.IntRange(min=0), default=10, show_default=True,
              help="Correct pairs of each kind (true matches, true non-matches) to explain, a seeded sample.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Use at most this many pairs.")
@click.option("--aligned", is_flag=True, help="The images are already aligned face crops: only resize them.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--cache", "cache_dir", default=None, type=click.Path(file_okay=False),
              help="Keep the aligned faces in this folder, for later runs.")
@click.option("--backbone", default="dlib-resnet", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default="auto", show_default=True)
def audit(pairs_source, root, names, raw_options, out_dir, resume, overwrite, threshold, fmr, errors, near, contrast,
          seed, count, aligned, batch_size, cache_dir, backbone, weights, device) -> None:
    """Score every pair, choose the threshold (the backbone's, --threshold, or --fmr on these
    pairs), explain the false matches, false non-matches, the pairs nearest the threshold and a
    sample of correct pairs, then relate the supported words and the predicted groups to the
    errors. Writes OUT/scores.jsonl and explanations.jsonl (streamed), figures under OUT/pairs/,
    and OUT/audit.json; `s2w report OUT` turns it into a web page. Exit code 1 if any row failed."""
    from ..attributes.composite import load_attributes
    from ..bench.pairs import pair_list_id, read_pairs
    from ..bench.store import locked
    from ..options import route_options
    from ..pipeline import load_backbone
    from ..registry import get_registry
    from .explain import parse_key_values
    from .options import apply_threshold

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if fmr is not None and not 0 < fmr < 1:
        raise click.UsageError(f"--fmr must lie strictly between 0 and 1, got {fmr}")
    if fmr is not None and threshold is not None:
        raise click.UsageError("--fmr and --threshold exclude each other")
    names = list(dict.fromkeys(names))
    classes = {name: get_registry().explainer(name) for name in names}  # unknown names fail before any work
    options = route_options(classes, parse_key_values(raw_options))
    pairs = read_pairs(pairs_source, root, count=count, seed=seed)
    pairs_id = pair_list_id(pairs_source, root=root, count=count, seed=seed)
    folder = writable_folder(out_dir)
    with locked(folder):
        net = load_backbone(backbone, weights=weights, device=device)
        apply_threshold(net, threshold)
        attributes = load_attributes(device=str(net.device))
        summary = _run(pairs, net, folder, names, options, attributes, fmr=fmr, errors=errors, near=near,
                       contrast=contrast, seed=seed, batch_size=batch_size, aligned=aligned, cache=cache_dir,
                       pairs_id=pairs_id, resume=resume, overwrite=overwrite)
    _print(summary, folder)
    if summary["errors"]:
        raise S2WError(f"{len(summary['errors'])} rows failed (listed in {folder / 'audit.json'}); the audit holds "
                       "the rest, and --resume retries the failed ones")


def _run(pairs, net, folder, names, options, attributes, **settings) -> dict:
    from ..audit.run import run_audit

    progress = progress_bar()

    def stage(name: str, total: int):
        task = progress.add_task(name, total=total)
        return lambda: progress.advance(task)

    def failed(row: dict) -> None:
        who = f", {row['explainer']}" if row.get("explainer") else ""
        report_failure(f"pair {row['key']}{who} ({row['stage']}): {row['error']}", progress.console)

    def warn(message: str) -> None:
        report_warning(message, progress.console)

    with progress:
        return run_audit(pairs, net, folder, explainers=names, options=options, attributes=attributes, lock=False,
                         on_stage=stage, on_error=failed, warn=warn, **settings)


def _print(summary: dict, folder) -> None:
    console = out_console()
    c, t = summary["counts"], summary["threshold"]
    table = Table(title=f"s2w audit: {c['scored']} of {c['pairs']} pairs scored, threshold {t['threshold']:.4f}",
                  caption=t["source"])
    for column in ("mates", "non-mates", "false matches", "false non-matches", "FMR", "FNMR", "EER", "explained"):
        table.add_column(column, justify="right")
    v = summary["verification"] or {}
    at = v.get("at_threshold", {})
    eer = (v.get("eer") or {}).get("eer")
    fmt = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
    table.add_row(str(c["mates"]), str(c["non_mates"]), str(c["false_matches"]), str(c["false_non_matches"]),
                  fmt(at.get("fmr")), fmt(at.get("fnmr")), fmt(eer), str(c["explained_pairs"]))
    console.print(table)
    for sentence in summary["findings"][:3]:
        console.print(f"- {sentence}", highlight=False, soft_wrap=True)
    console.print(f"wrote {folder / 'audit.json'}; `s2w report {folder}` makes the web page", highlight=False,
                  soft_wrap=True)
