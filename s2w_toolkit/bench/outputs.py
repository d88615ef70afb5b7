"""The files a benchmark summary is written to: ``summary.json``, ``summary.csv`` (one line per
explainer, pair type, side and score), ``summary.md`` (tables for people) and the plots.

Every file is written atomically (a crash leaves the old file or the new one, never half).

Example:
    >>> cell = {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 3, "better": "lower"}
    >>> interval(cell), difference({"difference": -0.1, "low": -0.2, "high": -0.05, "beats": True, "control": "centre"})
    ('0.500 [0.400, 0.600]', '-0.100 [-0.200, -0.050] vs centre, beats')
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..io.atomic import write_text
from ..io.json_data import dumps

FIELDS = ("explainer", "role", "evidence", "pair_type", "side", "metric", "score", "better", "mean", "low", "high",
          "n", "control", "difference", "difference_low", "difference_high", "beats_controls")


def number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or "-" for None."""
    return "-" if value is None else f"{value:.{digits}f}"


def interval(cell: dict) -> str:
    """``mean [low, high]`` of a result cell."""
    return f"{number(cell.get('mean'))} [{number(cell.get('low'))}, {number(cell.get('high'))}]"


def difference(versus: dict | None) -> str:
    """The difference against the best control, its interval, and whether it beats both."""
    if not versus or versus.get("difference") is None:
        return "-"
    verdict = "beats" if versus["beats"] else "does not beat"
    return f"{number(versus['difference'])} [{number(versus['low'])}, {number(versus['high'])}] vs {versus['control']}, " \
           f"{verdict}"


def score_metrics(summary: dict) -> dict[str, str]:
    """Score name -> the metric that reports it."""
    return {score: metric for metric, info in summary["metrics"].items() for score in info["scores"]}


def csv_text(summary: dict) -> str:
    """``summary.csv``: one line per explainer, pair type, side and score."""
    owner = score_metrics(summary)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(FIELDS)
    for name, info in summary["explainers"].items():
        for kind, sides in info["results"].items():
            for side, cells in sides.items():
                for score, cell in cells.items():
                    v = cell.get("versus") or {}
                    writer.writerow((name, info["role"], info["evidence"], kind, side, owner.get(score, ""), score,
                                     cell["better"], cell["mean"], cell["low"], cell["high"], cell["n"],
                                     v.get("control", ""), v.get("difference", ""), v.get("low", ""),
                                     v.get("high", ""), "" if v.get("beats") is None else v.get("beats")))
    return text.getvalue()


def write_summary(summary: dict, folder: str | Path) -> list[str]:
    """Write the JSON, CSV and Markdown summaries and the plots into ``folder``; return the file names."""
    from .plots import write_plots
    from .report_markdown import markdown

    folder = Path(folder)
    write_text(folder / "summary.json", dumps(summary, indent=1))
    write_text(folder / "summary.csv", csv_text(summary))
    write_text(folder / "summary.md", markdown(summary))
    return ["summary.json", "summary.csv", "summary.md", *[Path(p).name for p in write_plots(summary, folder)]]
