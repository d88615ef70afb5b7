"""``s2w plugins``: what is registered, and by whom; backbones with their input and embedding
size. Does not import torch for the built-ins."""

from __future__ import annotations

import json

import click
from rich import box
from rich.console import Console
from rich.table import Table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugins(as_json: bool) -> None:
    """List every registered backbone, attribute model and explainer."""
    from ..registry import get_registry

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
    console = Console()
    for kind in ("backbone", "attribute-model", "explainer"):
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
                cells[0] = f"[red]{row['name']} (conflict)[/]"
            table.add_row(*cells)
        console.print(table)
