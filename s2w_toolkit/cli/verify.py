"""``s2w verify``: is it the same person?

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["verify", "--help"]).output.splitlines()[0]
    'Usage: cli verify [OPTIONS] [IMAGES]...'
"""

from __future__ import annotations

import json

import click
from rich.table import Table

from ..io.names import distinct_labels
from .console import out_console, styled
from .options import model_options, prepare, threshold_option


@click.command()
@click.argument("images", nargs=-1, type=click.Path())
@model_options
@threshold_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(images, backbone, weights, device, face_index, aligned, threshold, as_json) -> None:
    """Compare the faces in two photos (default: the bundled demo pair)."""
    from ..pipeline import verify as run_verify

    net, pair = prepare(images, backbone, weights, device, face_index, aligned, threshold)
    result = run_verify(pair, net)
    result["threshold_source"] = net.threshold_source
    result["device"] = str(net.device)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"s2w verify ({result['backbone']} on {result['device']})",
                  caption=f"threshold: {net.threshold_source}" if net.threshold_source else None)
    for column in ("a", "b", "cosine", "threshold", "verdict"):
        table.add_column(column, justify="right" if column in ("cosine", "threshold") else "left")
    verdict = styled("same person", "green") if result["same_person"] else styled("different person", "red")
    a, b = distinct_labels([result["a"], result["b"]])  # kit/1.jpg and biden/1.jpg, not 1.jpg twice
    table.add_row(a, b, f"{result['similarity']:.4f}", f"{result['threshold']:.4f}", verdict)
    out_console().print(table)
