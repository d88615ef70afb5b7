"""Rendering the report page with jinja2 and writing it atomically.

The page's Content-Security-Policy allows no script but its own sorting script, named by the
SHA-256 of its text as rendered (:func:`csp_hash`), so an inline ``<script>`` or ``onerror``
that got into the page would not run; images only as ``data:``, nothing fetched.

Example:
    >>> html = render_page({"kind": "benchmark", "title": "t", "settings": {}, "blocks": [], "figures": [], "errors": []})
    >>> html.startswith("<!DOCTYPE html>"), "<title>t</title>" in html, "unsafe-inline'; base" in html
    (True, True, False)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import S2WError

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


def csp_hash(script: str) -> str:
    """The Content-Security-Policy source that allows exactly the inline script ``script``.

    >>> csp_hash("alert(1)")
    "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
    """
    digest = hashlib.sha256(str(script).encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def render_page(context: dict[str, Any]) -> str:
    """The HTML of the page (autoescaped: file names and messages are shown as text)."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["fmt"] = number
    env.filters["csp_hash"] = lambda script: markupsafe.Markup(csp_hash(script))  # quotes and base64: safe as is
    return env.get_template(TEMPLATE).render(**context)


def write_report(folder: str | Path, out: str | Path | None = None, warn: Callable[[str], None] | None = None) -> Path:
    """Write the page of an audit or benchmark ``folder`` to ``out`` (default
    ``folder/report.html``); return its path. ``warn`` gets each figure or file left out."""
    from ..io.atomic import write_text
    from .context import report_context, source_file

    path = Path(out) if out is not None else Path(folder) / "report.html"
    context = report_context(folder, warn)
    try:
        html = render_page(context)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:  # a value of the wrong type
        raise S2WError(f"{source_file(folder)}: not what `s2w {context['kind']}` writes ({type(exc).__name__}: "
                       f"{exc}); rerun `s2w {context['kind']}`") from exc
    write_text(path, html)
    return path
