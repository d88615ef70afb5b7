"""The swap game's results for people: ``summary.md`` (one table per form and kind, every
explainer and control per region, means with intervals, the difference against the best
control and whether it beats both), ``summary.json`` and ``game.png`` (one panel per region:
each explainer's mass ratio as a point with its interval, the controls as bands).

Example:
    >>> import os, tempfile
    >>> from s2w_toolkit.game.summary import summarise
    >>> rows = [{"case": f"c{i}", "form": "self", "kind": "swap", "region": "nose", "explainer": e,
    ...          "scores": {"mass_ratio": m, "pointing": 1.0, "hit_auc": 0.6}, "words": []}
    ...         for i in range(3) for e, m in (("oracle", 5.0), ("random", 1.0), ("centre", 2.0))]
    >>> folder = tempfile.mkdtemp()
    >>> sorted(os.path.basename(p) for p in write_outputs(summarise(rows), folder))
    ['game.png', 'summary.json', 'summary.md']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .scores import SCORES
from ..explainers.control_names import CONTROLS
from .summary import ALL_REGIONS

#: Short column names of the scores.
LABELS = {"mass_ratio": "mass ratio", "pointing": "pointing", "hit_auc": "hit AUC"}


def format_cell(cell: dict | None) -> str:
    """A cell as ``mean [low, high]`` (the mean alone below the minimum number of cases)."""
    if not cell or cell.get("mean") is None:
        return "-"
    if cell.get("low") is None:
        return f"{cell['mean']:.3f}"
    return f"{cell['mean']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def format_versus(cell: dict | None) -> str:
    """The difference against the control the cell beats by the least, and the verdict."""
    versus = (cell or {}).get("versus") or {}
    if not versus:
        return ""
    best = min(versus.items(), key=lambda item: item[1]["difference"] if item[1]["difference"] is not None else 0)
    name, diff = best
    text = f"{diff['difference']:+.3f} vs {name}"
    if diff.get("low") is not None:
        text += f" [{diff['low']:+.3f}, {diff['high']:+.3f}]"
    verdict = {True: "beats both", False: "does not beat both", None: "no claim"}[cell.get("beats")]
    return f"{text}, {verdict}"


def _regions(summary: dict) -> list[str]:
    found = {region for by_region in summary["cells"].values() for region in by_region}
    return sorted(found - {ALL_REGIONS}) + ([ALL_REGIONS] if ALL_REGIONS in found else [])


def markdown(summary: dict[str, Any], title: str = "s2w game score") -> str:
    """``summary.md``: per form and kind, one row per explainer and region."""
    lines = [f"# {title}", "",
             "Scores of each explainer's map of the swapped face against the planted region "
             "(mass ratio: 1 = chance; pointing: share of maxima inside the region; hit AUC: 0.5 = chance). "
             "Means with 95% bootstrap intervals over cases; the difference is against the control it beats "
             "by the least, and an explainer beats both controls when every difference's interval is above 0. "
             "Fewer than 6 cases: no interval and no claim.", ""]
    forms = sorted({f for e in summary["cells"].values() for r in e.values() for f in r})
    for form in forms:
        for kind in ("swap", "null"):
            rows = []
            for explainer, by_region in summary["cells"].items():
                for region in _regions(summary):
                    cells = by_region.get(region, {}).get(form, {}).get(kind)
                    if not cells:
                        continue
                    words = summary["words"].get(explainer, {}).get(region, {}).get(form, {}).get(kind)
                    said = "" if not words or words.get("named") is None else f"{words['named']:.0%}"
                    if words and words.get("found") is not None:
                        said += f" (found {words['found']:.0%})"
                    rows.append(f"| {explainer} | {region} | {cells['mass_ratio']['n']} | "
                                + " | ".join(format_cell(cells.get(s)) for s in SCORES)
                                + f" | {format_versus(cells.get('mass_ratio'))} | {said} |")
            if rows:
                lines += [f"## {form} pairs, {kind} cases", "",
                          "| explainer | region | cases | " + " | ".join(LABELS[s] for s in SCORES)
                          + " | mass ratio vs controls | words named |",
                          "| --- | --- | ---: | " + " | ".join("---:" for _ in SCORES) + " | --- | ---: |", *rows, ""]
    if summary.get("errors"):
        lines += [f"{summary['errors']} rows failed: " + ", ".join(f"{k}: {v}" for k, v in summary["failed"].items()),
                  ""]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: str | Path, form: str = "self", kind: str = "swap") -> str:
    """``game.png``: one panel per region, each explainer's mass ratio with its interval, the
    controls as bands, chance (1) as a line."""
    from ..plotting import palette, save_figure, subplots

    regions = _regions(summary)
    fig, axes = subplots(1, max(len(regions), 1), figsize=(2.6 * max(len(regions), 1), 3.4), dpi=110, squeeze=False)
    colours = palette()
    explainers = [e for e in summary["cells"] if e not in CONTROLS]
    for ax, region in zip(axes[0], regions):
        for i, control in enumerate(c for c in CONTROLS if c in summary["cells"]):
            cell = summary["cells"][control].get(region, {}).get(form, {}).get(kind, {}).get("mass_ratio")
            if cell and cell.get("mean") is not None:
                colour = colours[(i + 3) % len(colours)]
                if cell.get("low") is not None:
                    ax.axhspan(cell["low"], cell["high"], color=colour, alpha=0.2)
                ax.axhline(cell["mean"], color=colour, linewidth=0.8, label=control)
        ax.axhline(1.0, color="black", linewidth=0.6, linestyle=":")
        for x, name in enumerate(explainers):
            cell = summary["cells"][name].get(region, {}).get(form, {}).get(kind, {}).get("mass_ratio")
            if not cell or cell.get("mean") is None:
                continue
            spread = None if cell.get("low") is None else [[cell["mean"] - cell["low"]], [cell["high"] - cell["mean"]]]
            ax.errorbar([x], [cell["mean"]], yerr=spread, fmt="o", capsize=3, color="black" if cell["beats"] else "grey",
                        markerfacecolor="black" if cell["beats"] else "white")
        ax.set_title(region, fontsize=9)
        ax.set_xticks(range(len(explainers)), explainers, rotation=40, ha="right", fontsize=7)
        ax.set_xlim(-0.6, max(len(explainers) - 0.4, 0.6))
        ax.tick_params(axis="y", labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper right")
    axes[0][0].set_ylabel("mass inside the region / its area share", fontsize=7)
    fig.suptitle(f"swap game, {form} pairs, {kind} cases: filled = beats both controls; dotted line = chance",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def write_outputs(summary: dict[str, Any], folder: str | Path, title: str = "s2w game score") -> list[str]:
    """Write ``summary.json``, ``summary.md`` and ``game.png`` into ``folder``; return their paths."""
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    folder = Path(folder)
    write_text(folder / "summary.json", dumps(summary, indent=1) + "\n")
    write_text(folder / "summary.md", markdown(summary, title))
    return [str(folder / "summary.json"), str(folder / "summary.md"), plot(summary, folder / "game.png")]
