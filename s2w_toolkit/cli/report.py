"""``s2w report``: an audit or benchmark folder as one self-contained web page.

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["report", "--help"]).output.splitlines()[0]
    'Usage: cli report [OPTIONS] FOLDER'
"""

from __future__ import annotations

import click

from .console import report_warning


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="The HTML file (default: FOLDER/report.html).")
def report(folder, out_file) -> None:
    """Write the page of an `s2w audit` or `s2w benchmark` folder: one HTML file with every
    image embedded and nothing fetched from the network, readable on a laptop or a phone and
    printable. A figure that is not a regular file inside FOLDER, or is too large, is left out
    with a warning on stderr and in the page."""
    from ..report.page import write_report

    path = write_report(folder, out_file, warn=report_warning)
    click.echo(f"wrote {path}")
