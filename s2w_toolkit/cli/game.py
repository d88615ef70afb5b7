"""``s2w game``: the swap game, a benchmark with ground truth (``s2w game build``).

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["game", "build", "--help"]).output.splitlines()[0]
    'Usage: cli game build [OPTIONS]'
"""

from __future__ import annotations

import click
from rich.table import Table

from ..errors import S2WError
from .console import out_console, progress_bar, report_failure


@click.group()
def game() -> None:
    """The swap game: another person's eyes, eyebrows, nose or mouth planted on a mate photo,
    which maps must point at and words must name."""


@game.command()
@click.option("--identities", type=click.Path(file_okay=False), default=None,
              help="A folder of identity folders (one folder of photos per person).")
@click.option("--pairs", "pairs_source", type=click.Path(dir_okay=False), default=None,
              help="A pair list (CSV a,b,same or LFW pairs.txt): photos joined by mate pairs are one person.")
@click.option("--root", default=None, help="Folder the pair paths are relative to.")
@click.option("--regions", default="eyes,eyebrows,nose,mouth", show_default=True,
              help="Regions to swap, comma-separated.")
@click.option("--donors", type=click.IntRange(min=1), default=2, show_default=True,
              help="Other people whose region is planted on each mate, per region.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--margin", type=click.FloatRange(min=0), default=None,
              help="Keep a probe case when the swap lowers the probe-mate cosine by at least this [0.01].")
@click.option("--blend", type=click.Choice(["poisson", "feather"]), default="poisson", show_default=True,
              help="How the region is blended in (see docs/benchmark.md for the measurement behind the default).")
@click.option("--aligned", is_flag=True, help="The photos are already aligned face crops.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--out", "out_dir", default="s2w-game", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Finish the game in --out (its settings must match).")
@click.option("--overwrite", is_flag=True, help="Replace the game in --out.")
@click.option("--backbone", default="dlib-resnet", show_default=True)
@click.option("--weights", type=click.Path(dir_okay=False), default=None)
@click.option("--device", default="auto", show_default=True)
def build(identities, pairs_source, root, regions, donors, seed, margin, blend, aligned, batch_size, out_dir, resume,
          overwrite, backbone, weights, device) -> None:
    """Build a game: for each person with two photos a probe and a mate; for each region, the
    region of DONORS other people planted on the mate, and one null case from the same person.
    Writes OUT/game.json, OUT/manifest.jsonl and the faces and masks."""
    from ..game.build import DEFAULT_MARGIN, build_game
    from ..game.cases import people_from_folder, people_from_pairs
    from ..game.regions import parse_regions
    from ..pipeline import load_backbone

    if (identities is None) == (pairs_source is None):
        raise click.UsageError("give one of --identities DIR or --pairs FILE")
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    names = [r.name for r in parse_regions(regions)]  # an unknown region fails before any work
    if identities is not None:
        people = people_from_folder(identities)
    else:
        from ..bench.pairs import read_pairs

        people = people_from_pairs(read_pairs(pairs_source, root))
    net = load_backbone(backbone, weights=weights, device=device)
    progress = progress_bar()
    with progress:
        task = progress.add_task("building the game", total=sum(len(p) >= 2 for p in people.values()))
        summary = build_game(people, net, out_dir, names, donors=donors, seed=seed,
                             margin=DEFAULT_MARGIN if margin is None else margin, blend=blend, aligned=aligned,
                             batch_size=batch_size, resume=resume, overwrite=overwrite,
                             on_person=lambda person: progress.advance(task))
    for row in summary["photo_errors"]:
        report_failure(f"{row['photo']}: {row['error']}" if "photo" in row else row["error"])
    _print(summary, out_dir, net.name)
    if summary["photo_errors"] or any(c["errors"] for c in summary["counts"].values()):
        raise S2WError(f"some photos or cases failed (listed in {out_dir}/manifest.jsonl); the rest of the game is "
                       "built, and --resume retries the failed cases")


def _print(summary: dict, out_dir: str, backbone: str) -> None:
    s = summary["settings"]
    table = Table(title=f"s2w game build: {backbone}, {s['blend']} blend, margin {s['margin']:g}",
                  caption="probe kept: swaps that lower the probe-mate cosine by at least the margin")
    for column in ("region", "swaps", "probe kept", "null cases", "errors"):
        table.add_column(column, justify="left" if column == "region" else "right")
    for region, c in summary["counts"].items():
        table.add_row(region, str(c["swaps"]), str(c["probe_kept"]), str(c["nulls"]), str(c["errors"]))
    console = out_console()
    console.print(table)
    console.print(f"wrote {out_dir}/game.json, {out_dir}/manifest.jsonl", soft_wrap=True)
