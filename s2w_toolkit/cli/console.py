"""Small helpers shared by the CLI commands.

Example:
    >>> report_failure(ValueError("shown on stderr; the command goes on"))
"""

from __future__ import annotations

from rich.console import Console

err_console = Console(stderr=True, highlight=False)


def report_failure(exc: BaseException) -> None:
    """Print one error line on stderr without stopping the command."""
    err_console.print(f"[red]error:[/] {exc}", markup=True, soft_wrap=True)
