"""What the CLI prints, in one place: consoles that never read markup, styled messages, and
progress that suits where it goes.

Outside text (file names, plugin names and messages, words, column names) is never parsed as
Rich markup or emoji codes: every console made here has ``markup=False`` and ``emoji=False``,
and styles are attached to :class:`rich.text.Text` pieces instead, so ``[/red]`` or
``me [edited].jpg`` prints as it is written. When the output is not a terminal (CI, ``nohup``,
a log file), tables are not cut at 80 columns and progress is plain lines on stderr.

Example:
    >>> report_failure(ValueError("shown on stderr; [/red] and all; the command goes on"))
    >>> styled("failed", "red").plain
    'failed'
"""

from __future__ import annotations

import os
import time
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

#: Width of a console whose output is not a terminal and whose ``COLUMNS`` is unset: wide enough
#: that no table of the toolkit is cut or folded in a log.
PIPED_WIDTH = 1000

#: Seconds between two plain progress lines for the same task (``S2W_PROGRESS_SECONDS`` overrides).
PLAIN_PROGRESS_SECONDS = 30.0


class ToolConsole(Console):
    """A Rich console that prints text literally (no markup, no emoji codes, no highlighting)
    and, when its output is not a terminal, is as wide as :data:`PIPED_WIDTH`.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> ToolConsole(file=out).print("[/red] stays, :smile: too")
        >>> out.getvalue()
        '[/red] stays, :smile: too\\n'
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("highlight", False)
        super().__init__(markup=False, emoji=False, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(PIPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


err_console = ToolConsole(stderr=True)


def out_console() -> ToolConsole:
    """A console on stdout, for tables and ``wrote ...`` lines."""
    return ToolConsole()


def styled(text: object, style: str) -> Text:
    """``text`` (taken literally) in ``style``: how a table cell or message gets its colour."""
    return Text(str(text), style=style)


def _line(label: str, style: str, message: object) -> Text:
    return Text.assemble((label, style), " ", str(message))


def report_failure(exc: BaseException | str, console: Console | None = None) -> None:
    """Print one error line on stderr (``error: ...``) without stopping the command."""
    (console or err_console).print(_line("error:", "red", exc), soft_wrap=True)


def report_warning(message: object, console: Console | None = None) -> None:
    """Print one warning line on stderr (``warning: ...``)."""
    (console or err_console).print(_line("warning:", "yellow", message), soft_wrap=True)


def report_note(message: object, console: Console | None = None) -> None:
    """Print one dim line on stderr: events of a long run that are not failures."""
    (console or err_console).print(styled(message, "dim"), soft_wrap=True)


def progress_bar(spinner: bool = False) -> "Progress | PlainProgress":
    """Progress on stderr: Rich's bars in a terminal, :class:`PlainProgress` lines elsewhere.

    Both offer ``with``, ``add_task``, ``advance``, ``update`` and ``console``."""
    if not err_console.is_terminal:
        return PlainProgress(err_console)
    columns = [SpinnerColumn()] if spinner else []
    columns += [TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn()]
    return Progress(*columns, console=err_console, transient=True)


class PlainProgress:
    """Progress as plain lines, for output that is not a terminal: ``TASK: DONE/TOTAL (P%),
    R/s, about T left``, every :data:`PLAIN_PROGRESS_SECONDS` (``every``), and when a task that
    has shown a line ends. A task shorter than that stays quiet.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> with PlainProgress(ToolConsole(file=out), every=0) as progress:
        ...     task = progress.add_task("pairs", total=2)
        ...     progress.advance(task)
        ...     progress.advance(task)
        >>> [line.split(",")[0] for line in out.getvalue().splitlines()]
        ['pairs: 1/2 (50%)', 'pairs: 2/2 (100%)']
    """

    def __init__(self, console: Console, every: float | None = None) -> None:
        self.console = console
        self.every = float(os.environ.get("S2W_PROGRESS_SECONDS", PLAIN_PROGRESS_SECONDS)) if every is None else every
        self._tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        task_id = len(self._tasks)
        self._tasks[task_id] = {"description": description, "total": total, "done": 0.0,
                                "start": time.monotonic(), "shown": None}
        return task_id

    def update(self, task_id: int, *, description: str | None = None, advance: float = 0, **_: Any) -> None:
        if description is not None:
            self._tasks[task_id]["description"] = description
        if advance:
            self.advance(task_id, advance)

    def advance(self, task_id: int, advance: float = 1) -> None:
        task = self._tasks[task_id]
        task["done"] += advance
        now = time.monotonic()
        finished = task["total"] is not None and task["done"] >= task["total"]
        since = now - (task["start"] if task["shown"] is None else task["shown"])
        if since >= self.every or (finished and task["shown"] is not None):
            task["shown"] = now
            self.console.print(self._describe(task, now), soft_wrap=True)

    @staticmethod
    def _describe(task: dict[str, Any], now: float) -> Text:
        done, total = task["done"], task["total"]
        elapsed = max(now - task["start"], 1e-9)
        rate = done / elapsed
        parts = [f"{task['description']}: {done:g}/{total:g}" if total else f"{task['description']}: {done:g}"]
        if total:
            parts[0] += f" ({100 * done / total:.0f}%)"
        parts.append(f"{rate:.2g}/s")
        if total and rate > 0 and done < total:
            parts.append(f"about {_duration((total - done) / rate)} left")
        elif total and done >= total:
            parts.append(f"done in {_duration(elapsed)}")
        return Text(", ".join(parts))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"

