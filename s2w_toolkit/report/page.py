"""Rendering the report page with jinja2 and writing it atomically.

Example:
    >>> html = render_page({"kind": "benchmark", "title": "t", "settings": {}, "blocks": [], "figures": [], "errors": []})
    >>> html.startswith("<!DOCTYPE html>"), "<title>t</title>" in html
    (True, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE = "report.html.j2"


def number(value: Any, spec: str = "%.3f") -> str:
    """``spec % value``, or ``-`` for a missing value (a rate of no pairs, a test not made).

    >>> number(0.12345), number(None), number(0.5, "%+.2f")
    ('0.123', '-', '+0.50')
    """
    import jinja2

    if value is None or isinstance(value, jinja2.Undefined):
        return "-"
    return spec % value


def render_page(context: dict[str, Any]) -> str:
    """The HTML of the page (autoescaped: file names and messages are shown as text)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["fmt"] = number
    return env.get_template(TEMPLATE).render(**context)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the page of an audit or benchmark ``folder`` to ``out`` (default
    ``folder/report.html``); return its path."""
    from ..io.atomic import write_text
    from .context import report_context

    path = Path(out) if out is not None else Path(folder) / "report.html"
    write_text(path, render_page(report_context(folder)))
    return path
