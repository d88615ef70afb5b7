"""What the report page shows, read from a folder: an audit (``audit.json``) or a benchmark
(``summary.json``, ``summary.md``, its figures and the error rows of ``results.jsonl``).

Example:
    >>> blocks = markdown_blocks("# Title\\n\\nSome text.\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |\\n- item")
    >>> [b["kind"] for b in blocks], blocks[2]["rows"]
    (['heading', 'text', 'table', 'list'], [['1', '2']])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import S2WError
from .charts import distribution_chart, figure_uri, file_uri, roc_chart

GALLERIES = (("false match", "False matches", "non-mates the matcher accepted, highest score first"),
             ("false non-match", "False non-matches", "mates the matcher rejected, lowest score first"),
             (None, "Near the threshold and correct pairs for contrast",
              "the pairs nearest the threshold on each side, and a seeded sample of correct decisions"))


def folder_kind(folder: Path) -> str:
    """``"audit"`` or ``"benchmark"``; refuses a folder that is neither."""
    if (folder / "audit.json").is_file():
        return "audit"
    if (folder / "summary.json").is_file():
        return "benchmark"
    raise S2WError(f"{folder} holds neither an audit (audit.json) nor a benchmark summary (summary.json); run "
                   "`s2w audit` or `s2w benchmark` into it first")


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise S2WError(f"{path}: not readable as JSON ({exc})") from None


def _card(entry: dict, folder: Path) -> dict:
    explainers = []
    for e in entry["explainers"]:
        explainers.append({"name": e["explainer"], "image": figure_uri(folder / e["figure"]) if e.get("figure") else None,
                           "words": [w for w in e.get("words") or [] if w.get("supported", True)],
                           "names_words": e.get("words") is not None, "error": e.get("error")})
    return {**entry, "name_a": _short(entry["a"]), "name_b": _short(entry["b"]), "explainers": explainers}


def _short(path: str) -> str:
    """A photo's folder and file name (``obama/2.jpg``): enough to tell identities apart."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else path


def audit_context(folder: Path) -> dict[str, Any]:
    """The page of an audit folder."""
    summary = _load(folder / "audit.json")
    verification = summary.get("verification") or {}
    scores = summary.get("scores") or []
    threshold = summary["threshold"]["threshold"]
    charts = {}
    if verification:
        charts["roc"] = roc_chart([s[1] for s in scores], [s[2] for s in scores], threshold)
    if scores:
        charts["distribution"] = distribution_chart([s[1] for s in scores], [s[2] for s in scores], threshold)
    cards = [_card(entry, folder) for entry in summary.get("gallery", [])]
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


def benchmark_context(folder: Path) -> dict[str, Any]:
    """The page of a benchmark folder."""
    from ..bench.report_markdown import markdown
    from ..bench.store import RESULTS, read_rows
    from ..bench.summary import resolve

    summary = _load(folder / "summary.json")
    rows = resolve([read_rows(folder / RESULTS)]) if (folder / RESULTS).is_file() else []  # a retried row once
    errors = [{k: r.get(k) for k in ("key", "explainer", "stage", "error")} for r in rows if "error" in r]
    errors += [{"key": r["key"], "explainer": r["explainer"], "stage": f"measure {m}", "error": message}
               for r in rows for m, message in r.get("metric_errors", {}).items()]
    figures = [(title, file_uri(folder / name)) for name, title in
               (("summary.png", "Each explainer against the controls"), ("curves.png", "Deletion and insertion curves"),
                ("replacement.png", "Pixel replacement"), ("roc.png", "The backbone's ROC and DET"))]
    s = summary["settings"]
    return {"kind": "benchmark", "title": f"s2w benchmark: {s.get('backbone', '?')}", "settings": s,
            "explainers": summary.get("explainers", {}), "blocks": markdown_blocks(markdown(summary)),
            "figures": [(t, uri) for t, uri in figures if uri], "errors": errors}


def report_context(folder: str | Path) -> dict[str, Any]:
    """The page of an audit or a benchmark folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise S2WError(f"{folder}: no such folder")
    return audit_context(folder) if folder_kind(folder) == "audit" else benchmark_context(folder)
