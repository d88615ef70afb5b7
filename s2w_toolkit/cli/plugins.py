"""``s2w plugins``: what is registered, and by whom; backbones with their input and embedding
size. Does not import torch for the built-ins. ``s2w plugins NAME``: the options of explainer
NAME, with their types, defaults and help."""

from __future__ import annotations

import json

import click
from rich import box
from rich.table import Table

from .console import out_console, styled


def options_table(name: str, cls: type) -> Table:
    """The options of explainer ``cls`` (registered as ``name``): option, type, default, help.

    Example:
        >>> from s2w_toolkit.explainers.input_gradient import InputGradientExplainer
        >>> [column.header for column in options_table("input-gradient", InputGradientExplainer).columns]
        ['option', 'type', 'default', 'help']
    """
    from ..options import format_value, option_specs

    table = Table(title=f"{name} options (-o KEY=VALUE)", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("option", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("default", overflow="fold")
    table.add_column("help", overflow="fold")
    for spec in option_specs(cls):
        table.add_row(spec.name, spec.type, format_value(spec.default), spec.help)
    return table


def _show_options(name: str, as_json: bool) -> None:
    from ..options import option_specs
    from ..registry import get_registry

    cls = get_registry().explainer(name)  # an unknown name is a one-line PluginError
    if as_json:
        rows = [{"name": s.name, "type": s.type, "default": s.default, "help": s.help} for s in option_specs(cls)]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    out_console().print(options_table(name, cls))


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the list (or NAME's options) as JSON.")
def plugins(name: str | None, as_json: bool) -> None:
    """List every registered backbone, attribute model and explainer; with NAME, the options of
    that explainer."""
    from ..registry import get_registry

    if name is not None:
        _show_options(name, as_json)
        return
    reg = get_registry()
    rows = [
        {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution, "version": e.version,
         **e.details()}
        for e in reg.all_entries()
    ]
    for (kind, name), entries in reg.conflicts.items():
        for e in entries:
            rows.append({"kind": kind, "name": name, "plugin": e.plugin, "distribution": e.distribution,
                         "version": e.version, "conflict": True})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = out_console()
    for kind in ("backbone", "attribute-model", "explainer", "metric"):
        of_kind = [row for row in rows if row["kind"] == kind]
        if not of_kind:
            continue
        columns = ["name", "input", "dim"] if kind == "backbone" else ["name"]
        columns += ["package", "plugin"]
        table = Table(title=f"{kind}s", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
        for column in columns:
            table.add_column(column, no_wrap=True, overflow="ellipsis")
        for row in of_kind:
            row = {**row, "dim": row.get("embedding", ""), "package": f"{row['distribution']} {row['version']}"}
            cells = [row.get(column, "") for column in columns]
            if row.get("conflict"):
                cells[0] = styled(f"{row['name']} (conflict)", "red")
            table.add_row(*cells)
        console.print(table)
