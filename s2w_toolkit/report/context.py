"""What the report page shows, read from a folder: an audit (``audit.json``), a benchmark
(``summary.json``, ``summary.md``, its figures and the error rows of ``results.jsonl``) or the
scores of a swap game (``run.json``, ``summary.json``, ``game.png`` and the error rows of
``scores.jsonl``).

Every file is read only when it is a regular file inside the folder once resolved; a figure that
is not, or is too large, is left out with a warning (``context["warnings"]``, shown in the page
and passed to ``warn``); a summary file that is not, or does not hold what ``s2w audit`` or
``s2w benchmark`` writes, is a one-line :class:`~s2w_toolkit.errors.S2WError` naming it.

Example:
    >>> blocks = markdown_blocks("# Title\\n\\nSome text.\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |\\n- item")
    >>> [b["kind"] for b in blocks], blocks[2]["rows"]
    (['heading', 'text', 'table', 'list'], [['1', '2']])
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import S2WError
from ..io.files import inside, open_regular, read_regular
from .charts import distribution_chart, roc_chart
from .figures import jpeg_uri, png_uri

#: Most bytes of ``audit.json`` or ``summary.json`` read (they are a few MB for large runs).
MAX_SUMMARY_BYTES = 256 << 20
#: Top-level entries (and their JSON types) without which a file is not what the report reads.
AUDIT_KEYS = {"settings": dict, "threshold": dict, "counts": dict}
BENCHMARK_KEYS = {"settings": dict, "metrics": dict, "explainers": dict, "run": dict}
GAME_KEYS = {"cells": dict, "words": dict}
GAME_RUN_KEYS = {"game": str, "backbone": str, "explainers": list}
#: The benchmark's figures: file name and caption.
BENCHMARK_FIGURES = (("summary.png", "Each explainer against the controls"),
                     ("curves.png", "Deletion and insertion curves"), ("replacement.png", "Pixel replacement"),
                     ("roc.png", "The backbone's ROC and DET"))

Warn = Callable[[str], None]

GALLERIES = (("false match", "False matches", "non-mates the matcher accepted, highest score first"),
             ("false non-match", "False non-matches", "mates the matcher rejected, lowest score first"),
             (None, "Near the threshold and correct pairs for contrast",
              "the pairs nearest the threshold on each side, and a seeded sample of correct decisions"))


def folder_kind(folder: Path) -> str:
    """``"audit"``, ``"game"`` (the scores of a swap game) or ``"benchmark"``; refuses a folder
    that is none of them."""
    if os.path.lexists(folder / "audit.json"):
        return "audit"
    if os.path.lexists(folder / "summary.json") and os.path.lexists(folder / "run.json"):
        return "game"
    if os.path.lexists(folder / "summary.json"):
        return "benchmark"
    raise S2WError(f"{folder} holds neither an audit (audit.json) nor a benchmark summary (summary.json); run "
                   "`s2w audit` or `s2w benchmark` into it first")


def _load(folder: Path, name: str, what: str, keys: dict[str, type]) -> dict:
    """The JSON object ``folder/name``, a regular file inside ``folder`` holding ``keys``."""
    path = folder / name
    data = read_regular(inside(folder, name), MAX_SUMMARY_BYTES, f"{what} summary")
    try:
        summary = json.loads(data)
    except ValueError as exc:
        raise S2WError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise S2WError(f"{path}: not {what} summary (a JSON {type(summary).__name__}, not an object); rerun "
                       f"`s2w {what.split()[-1]}`")
    for key, kind in keys.items():
        if not isinstance(summary.get(key), kind):
            found = type(summary[key]).__name__ if key in summary else None
            state = f"no {key!r}" if found is None else f"{key!r} is a {found}, not an object"
            raise S2WError(f"{path}: not {what} summary ({state}); rerun `s2w {what.split()[-1]}`")
    return summary


def _figure(read: Callable[..., str | None], folder: Path, name: Any, warn: Warn) -> str | None:
    """A figure's data URI, or None with a warning when it cannot be embedded."""
    if not isinstance(name, str):
        warn(f"{folder}: a figure path that is not a string ({name!r}); left out of the report")
        return None
    try:
        return read(folder, name)
    except S2WError as exc:
        warn(f"{exc}; left out of the report")
        return None


def _card(entry: dict, folder: Path, warn: Warn) -> dict:
    explainers = []
    for e in entry["explainers"]:
        explainers.append({"name": e["explainer"],
                           "image": _figure(jpeg_uri, folder, e["figure"], warn) if e.get("figure") else None,
                           "words": [w for w in e.get("words") or [] if w.get("supported", True)],
                           "names_words": e.get("words") is not None, "error": e.get("error")})
    return {**entry, "name_a": _short(entry["a"]), "name_b": _short(entry["b"]), "explainers": explainers}


def _short(path: str) -> str:
    """A photo's folder and file name (``obama/2.jpg``): enough to tell identities apart."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else path


def audit_context(folder: Path, warn: Warn) -> dict[str, Any]:
    """The page of an audit folder."""
    summary = _load(folder, "audit.json", "an audit", AUDIT_KEYS)
    verification = summary.get("verification") or {}
    scores = summary.get("scores") or []
    threshold = summary["threshold"]["threshold"]
    charts = {}
    if verification:
        charts["roc"] = roc_chart([s[1] for s in scores], [s[2] for s in scores], threshold)
    if scores:
        charts["distribution"] = distribution_chart([s[1] for s in scores], [s[2] for s in scores], threshold)
    cards = [_card(entry, folder, warn) for entry in summary.get("gallery") or []]
    galleries = []
    for outcome, title, note in GALLERIES:
        chosen = [c for c in cards if (c["outcome"] == outcome if outcome else
                                       c["outcome"] not in ("false match", "false non-match"))]
        galleries.append({"title": title, "note": note, "cards": chosen})
    groups = [{"attribute": attribute, "group": group, **rates}
              for attribute, per in summary.get("groups", {}).items() for group, rates in per.items()]
    return {"kind": "audit", "title": f"s2w audit: {summary['settings']['backbone']}", "summary": summary,
            "settings": summary["settings"], "counts": summary["counts"], "threshold": summary["threshold"],
            "at": verification.get("at_threshold", {}), "eer": (verification.get("eer") or {}).get("eer"),
            "roc_auc": verification.get("roc_auc"), "findings": summary.get("findings", [])[:3],
            "more_findings": summary.get("findings", [])[3:], "charts": charts, "galleries": galleries,
            "words": summary.get("words", {}), "groups": groups, "group_tests": summary.get("group_tests", []),
            "group_note": summary.get("group_note", ""), "errors": summary.get("errors", [])}


def markdown_blocks(text: str) -> list[dict[str, Any]]:
    """The subset of Markdown that ``summary.md`` uses (headings, tables, lists, text) as blocks."""
    blocks: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            blocks.append({"kind": "heading", "level": min(level + 1, 6), "text": line.lstrip("#").strip()})
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # the header's separator
            if blocks and blocks[-1]["kind"] == "table":
                blocks[-1]["rows"].append(cells)
            else:
                blocks.append({"kind": "table", "header": cells, "rows": []})
        elif line.startswith("- "):
            if blocks and blocks[-1]["kind"] == "list":
                blocks[-1]["items"].append(line[2:])
            else:
                blocks.append({"kind": "list", "items": [line[2:]]})
        else:
            blocks.append({"kind": "text", "text": line})
    return blocks


def _error_rows(folder: Path, warn: Warn) -> list[dict]:
    """The benchmark's rows, each (pair, explainer) once, when ``results.jsonl`` is a regular file
    inside the folder; none (with a warning) when it is not."""
    from ..bench.store import RESULTS, read_rows
    from ..bench.summary import resolve

    if not os.path.lexists(folder / RESULTS):
        return []
    try:
        path = inside(folder, RESULTS)
        open_regular(path, "a results file").close()
    except S2WError as exc:
        warn(f"{exc}; its error rows are left out of the report")
        return []
    return resolve([read_rows(path)])  # a retried row once


def benchmark_context(folder: Path, warn: Warn) -> dict[str, Any]:
    """The page of a benchmark folder."""
    from ..bench.report_markdown import markdown

    summary = _load(folder, "summary.json", "a benchmark", BENCHMARK_KEYS)
    rows = _error_rows(folder, warn)
    errors = [{k: r.get(k) for k in ("key", "explainer", "stage", "error")} for r in rows if "error" in r]
    errors += [{"key": r["key"], "explainer": r["explainer"], "stage": f"measure {m}", "error": message}
               for r in rows for m, message in r.get("metric_errors", {}).items()]
    figures = [(title, _figure(png_uri, folder, name, warn)) for name, title in BENCHMARK_FIGURES]
    s = summary["settings"]
    context = {"kind": "benchmark", "title": f"s2w benchmark: {s.get('backbone', '?')}", "settings": s,
               "explainers": summary.get("explainers", {}), "blocks": markdown_blocks(markdown(summary)),
               "figures": [(t, uri) for t, uri in figures if uri], "errors": errors}
    if os.path.lexists(folder / "game" / "summary.json"):  # s2w benchmark --game
        game = game_context(folder / "game", warn)
        for key in ("blocks", "figures", "errors"):
            context[key] = context[key] + game[key]
    return context


def game_context(folder: Path, warn: Warn) -> dict[str, Any]:
    """The page of a folder of swap-game scores (``s2w game score``)."""
    from ..bench.store import read_rows
    from ..game.outputs import markdown
    from ..game.score import SCORES_FILE

    summary = _load(folder, "summary.json", "a game's", GAME_KEYS)
    run = _load(folder, "run.json", "a game's run", GAME_RUN_KEYS)
    errors = []
    if os.path.lexists(folder / SCORES_FILE):
        try:
            path = inside(folder, SCORES_FILE)
            open_regular(path, "a scores file").close()
            rows = read_rows(path, required=("case", "form", "explainer"))
            errors = [{"key": f"{r['case']} ({r['form']})", "explainer": r["explainer"], "stage": r.get("stage"),
                       "error": r["error"]} for r in rows if "error" in r]
        except S2WError as exc:
            warn(f"{exc}; its error rows are left out of the report")
    figure = _figure(png_uri, folder, "game.png", warn)
    return {"kind": "game", "title": f"s2w game score: {run.get('backbone', '?')}", "settings": run,
            "explainers": {}, "blocks": markdown_blocks(markdown(summary, "The swap game")),
            "figures": [("Each explainer's mass ratio in the planted region, per region (self pairs, swap cases), "
                         "against the controls", figure)] if figure else [], "errors": errors}


def report_context(folder: str | Path, warn: Warn | None = None) -> dict[str, Any]:
    """The page of an audit or a benchmark folder; ``warn`` gets each warning as it is found
    (they are also in ``context["warnings"]``, which the page shows)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise S2WError(f"{folder}: no such folder")
    warnings: list[str] = []

    def warned(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    kind = folder_kind(folder)
    try:
        context = {"audit": audit_context, "game": game_context, "benchmark": benchmark_context}[kind](folder, warned)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:  # a value of the wrong type
        command = "game score" if kind == "game" else kind
        raise S2WError(f"{source_file(folder)}: not what `s2w {command}` writes ({type(exc).__name__}: {exc}); "
                       f"rerun `s2w {command}`") from exc
    return {**context, "warnings": warnings}


def source_file(folder: str | Path) -> Path:
    """The summary file the page of ``folder`` is made from: ``audit.json`` or ``summary.json``."""
    folder = Path(folder)
    return folder / ("audit.json" if folder_kind(folder) == "audit" else "summary.json")
