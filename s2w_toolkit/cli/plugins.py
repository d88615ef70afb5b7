"""``s2w plugins``: what is registered, and by whom. Does not import torch."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugins(as_json: bool) -> None:
    """List every registered backbone, attribute model and explainer."""
    from ..registry import get_registry

    reg = get_registry()
    rows = [
        {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution, "version": e.version}
        for e in reg.all_entries()
    ]
    for (kind, name), entries in reg.conflicts.items():
        for e in entries:
            rows.append({"kind": kind, "name": name, "plugin": e.plugin, "distribution": e.distribution,
                         "version": e.version, "conflict": True})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="s2w plugins")
    for column in ("kind", "name", "distribution", "version", "plugin"):
        table.add_column(column)
    for row in rows:
        name = f"[red]{row['name']} (conflict)[/]" if row.get("conflict") else row["name"]
        table.add_row(row["kind"], name, row["distribution"], row["version"], row["plugin"])
    Console().print(table)
