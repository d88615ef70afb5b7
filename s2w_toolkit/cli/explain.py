"""``s2w explain``: run one or more explainers on a pair, write JSON + PNG, print a summary."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import PluginError, S2WError
from .console import err_console, report_failure
from .options import model_options, prepare

DEFAULT_EXPLAINER = "input-gradient"


def writable_folder(path: str) -> Path:
    """Create ``path`` if needed and check that files can be written in it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".s2w-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise S2WError(f"{folder}: output folder cannot be written ({exc.strerror or exc})") from None
    return folder


@click.command()
@click.argument("images", nargs=-1, type=click.Path())
@click.option("--explainer", "-e", "names", multiple=True, default=(DEFAULT_EXPLAINER,), show_default=True,
              help="Registered explainer name; repeat to run several.")
@click.option("--out", "out_dir", default="s2w-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for <explainer>.json and <explainer>.png.")
@model_options
def explain(images, names, out_dir, backbone, weights, device, face_index, aligned) -> None:
    """Explain the similarity of the faces in two photos (default: the bundled demo pair)."""
    from ..registry import get_registry

    reg = get_registry()
    classes = {name: reg.explainer(name) for name in dict.fromkeys(names)}  # unknown names fail here
    folder = writable_folder(out_dir)
    net, pair = prepare(images, backbone, weights, device, face_index, aligned)

    table = Table(title=f"s2w explain ({net.name} on {net.device})")
    table.add_column("explainer", no_wrap=True)
    for column in ("cosine", "verdict", "top words", "seconds"):
        table.add_column(column)
    failed, written = [], []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, transient=True)
    with progress:
        task = progress.add_task("explaining", total=len(classes))
        for name, cls in classes.items():
            progress.update(task, description=f"explaining with {name}")
            _explain_one(name, cls, pair, net, folder, table, failed, written)
            progress.advance(task)
    console = Console()
    console.print(table)
    for line in written:
        console.print(f"wrote {line}", highlight=False, soft_wrap=True)
    if failed:
        raise S2WError(f"{len(failed)} of {len(classes)} explainer(s) failed: {', '.join(failed)}"
                       f"; the others' results are in {os.fspath(folder)}")


def _explain_one(name: str, cls: type, pair, net, folder: Path, table: Table, failed: list, written: list) -> None:
    """Run one explainer, write its JSON and PNG, add its row; a failure is reported, not raised."""
    from ..pipeline import run_explainer
    from ..render import render_explanation

    try:
        explanation = run_explainer(cls(), pair, net)
        json_path = folder / f"{name}.json"
        json_path.write_text(explanation.to_json())
        png_path = render_explanation(explanation, pair.image_a, pair.image_b, folder / f"{name}.png")
    except (PluginError, OSError) as exc:
        failed.append(name)
        report_failure(exc)
        table.add_row(name, "-", "[red]failed[/]", "", "")
        return
    verdict = "[green]same person[/]" if explanation.same_person else "[red]different person[/]"
    words = ", ".join(w.text for w in (explanation.words or [])[:3])
    table.add_row(name, f"{explanation.score:.4f}", verdict, words, f"{explanation.metadata['seconds']:.2f}")
    written.append(f"{json_path}, {png_path}")
