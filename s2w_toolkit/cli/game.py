"""``s2w game``: the swap game, a benchmark with ground truth (``s2w game build``, ``s2w game score``).

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
        report_failure(row["error"])  # it names the photo
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


@game.command()
@click.argument("game_dir", metavar="GAME", type=click.Path(file_okay=False))
@click.option("--explainer", "-e", "names", multiple=True, default=("sim2word", "input-gradient"), show_default=True,
              help="Registered explainer name; repeat to run several (random and centre always run).")
@click.option("--option", "-o", "raw_options", multiple=True, metavar="KEY=VALUE",
              help="An explainer option, sent to the explainers that declare it; repeatable.")
@click.option("--forms", default="self,probe", show_default=True, help="Which forms of each case: self, probe.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Score at most this many cases.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pointing game's tie-break.")
@click.option("--out", "out_dir", default="s2w-game-scores", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Finish the scores in --out.")
@click.option("--overwrite", is_flag=True, help="Replace the scores in --out.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Checkpoint of the game's backbone.")
@click.option("--device", default="auto", show_default=True)
def score(game_dir, names, raw_options, forms, count, seed, out_dir, resume, overwrite, weights, device) -> None:
    """Score every explainer's map of each swapped face against the planted region: mass ratio,
    pointing game and hit AUC per region, form and kind, against the random and centre controls.
    Writes OUT/scores.jsonl (streamed), summary.json/md and game.png; prints the summary."""
    from ..explainers.control_names import with_controls
    from ..game.score import FORMS, read_game
    from ..options import route_options
    from ..pipeline import load_backbone
    from ..registry import get_registry
    from .explain import parse_key_values

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    chosen = [f.strip() for f in forms.split(",") if f.strip()]
    if not chosen or any(f not in FORMS for f in chosen):
        raise click.UsageError(f"--forms takes {' and/or '.join(FORMS)}, got {forms!r}")
    names = with_controls(list(names))
    classes = {name: get_registry().explainer(name) for name in names}  # unknown names fail before any work
    options = route_options(classes, parse_key_values(raw_options))
    settings, cases = read_game(game_dir)  # a folder that is not a game fails before the model loads
    net = load_backbone(settings["settings"]["backbone"], weights=weights, device=device)
    attributes = None
    if any(cls.uses_attributes for cls in classes.values()):
        from ..attributes.composite import load_attributes

        attributes = load_attributes(device=str(net.device))
    errors = play_game(game_dir, out_dir, names, classes, net, options, attributes, chosen, resume=resume,
                       overwrite=overwrite, count=count, seed=seed, cases=cases)
    if errors:
        raise S2WError(f"{errors} rows failed; --resume retries them")


def play_game(game_dir, out_dir, names: list[str], classes: dict, net, options: dict, attributes=None,
              forms=("self", "probe"), *, resume: bool = False, overwrite: bool = False, count: int | None = None,
              seed: int = 0, cases: list | None = None) -> int:
    """Score the game in ``game_dir`` into ``out_dir`` with a progress bar, write its summary,
    table and figure, print them, and return how many rows failed (``s2w game score`` and
    ``s2w benchmark --game``)."""
    from ..game.outputs import write_outputs
    from ..game.score import read_game, score_game
    from ..game.summary import summarise

    if cases is None:
        cases = read_game(game_dir)[1]
    tasks = sum(1 for c in cases[:count] for f in forms if f == "self" or c.get("probe_kept"))
    progress = progress_bar()
    with progress:
        task = progress.add_task("scoring the game", total=tasks)
        rows = score_game(game_dir, out_dir, names, classes, net, options, attributes, forms, resume, overwrite,
                          count, seed, on_case=lambda: progress.advance(task),
                          on_error=lambda row: report_failure(f"case {row['case']} ({row['form']}), "
                                                              f"{row['explainer']}: {row['error']}", progress.console))
    summary = summarise(rows, word_regions=attributes.word_regions() if attributes is not None else None)
    written = write_outputs(summary, out_dir, f"s2w game score: {game_dir} on {net.name}")
    _print_scores(summary)
    out_console().print(f"wrote {out_dir}/scores.jsonl, " + ", ".join(written), soft_wrap=True)
    return summary["errors"]


def _print_scores(summary: dict) -> None:
    from ..game.outputs import format_cell, format_versus
    from ..game.summary import ALL_REGIONS

    console = out_console()
    for form in ("self", "probe"):
        table = Table(title=f"swap game, {form} pairs, swap cases: mass ratio (1 = chance), all regions and per region",
                      caption="hit AUC: 0.5 = chance; pointing: share of maxima inside the region; details in summary.md")
        for column in ("explainer", "region", "cases", "mass ratio", "hit AUC", "pointing", "vs controls"):
            table.add_column(column, justify="left" if column in ("explainer", "region", "vs controls") else "right")
        shown = False
        for explainer, by_region in summary["cells"].items():
            regions = sorted(r for r in by_region if r != ALL_REGIONS) + [ALL_REGIONS]
            for region in regions:
                cells = by_region.get(region, {}).get(form, {}).get("swap")
                if not cells:
                    continue
                shown = True
                table.add_row(explainer, region, str(cells["mass_ratio"]["n"]), format_cell(cells["mass_ratio"]),
                              format_cell(cells["hit_auc"]), format_cell(cells["pointing"]), format_versus(cells["mass_ratio"]))
        if shown:
            console.print(table)
