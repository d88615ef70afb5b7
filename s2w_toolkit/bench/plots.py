"""The benchmark's plots, one panel per pair type.

* ``curves.png``: mean deletion and insertion curves per explainer (controls dashed);
* ``replacement.png``: FNMR (mates) or FMR (non-mates) after xSSAB pixel replacement;
* ``summary.png``: each explainer's deletion and insertion AUC as a point with its 95%
  interval, the controls as horizontal bands (their intervals), so that "does it beat a map
  that looks at nothing" is read at a glance.

Example:
    >>> import os, tempfile
    >>> cell = {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 2, "better": "lower"}
    >>> s = {"explainers": {"x": {"role": "explainer", "evidence": "similarity",
    ...                           "results": {"mate": {"both": {"deletion_auc": cell, "insertion_auc": cell}}},
    ...                           "deletion": {"curves": {"mate": {"deletion": [0.9, 0.5], "insertion": [0.2, 0.9]}}}}},
    ...      "run": {}}
    >>> sorted(os.path.basename(p) for p in write_plots(s, tempfile.mkdtemp()))
    ['curves.png', 'replacement.png', 'summary.png']
"""

from __future__ import annotations

from pathlib import Path

from ..plotting import palette, save_figure, subplots
from .builtin_metrics import PAIR_TYPES
from .stats import too_few

SUMMARY_SCORES = (("deletion_auc", "deletion AUC (MoRF)"), ("insertion_auc", "insertion AUC (= LeRF)"))


def _kinds(summary: dict) -> list[str]:
    present = {k for e in summary["explainers"].values() for k in e.get("results", {})}
    present |= {k for e in summary["explainers"].values() for k in (e.get("deletion") or {}).get("curves", {})}
    return [k for k in PAIR_TYPES if k in present] or ["mate"]


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:  # a panel whose explainers all failed has none
        ax.legend(fontsize=6, loc="best")


def _style(info: dict) -> dict:
    return {"linestyle": "--", "linewidth": 1.0} if info.get("role") == "control" else {"linewidth": 1.4}


def _curves(summary: dict, folder: Path) -> str:
    kinds = _kinds(summary)
    fig, axes = subplots(2, len(kinds), figsize=(4.2 * len(kinds), 6.4), dpi=90, squeeze=False)
    for col, kind in enumerate(kinds):
        for row, key in enumerate(("deletion", "insertion")):
            ax = axes[row][col]
            for name, info in summary["explainers"].items():
                curve = (info.get("deletion") or {}).get("curves", {}).get(kind, {}).get(key)
                if curve:
                    xs = [i / (len(curve) - 1) for i in range(len(curve))] if len(curve) > 1 else [0.0]
                    ax.plot(xs, curve, label=name, **_style(info))
            first = "removed" if key == "deletion" else "kept"
            ax.set_title(f"{kind}s: {key}, most relevant {first} first", fontsize=9)
            ax.set_xlabel("fraction of pixels")
            ax.set_ylabel("cosine to the other face")
            _legend(ax)
    fig.tight_layout()
    return save_figure(fig, folder / "curves.png")


def _replacement(summary: dict, folder: Path) -> str:
    kinds = [k for k in _kinds(summary) if k != "unlabelled"] or ["mate"]
    fig, axes = subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.8), dpi=90, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        rate = "fnmr" if kind == "mate" else "fmr"
        for name, info in summary["explainers"].items():
            strategies = (info.get("replacement") or {}).get("rates", {}).get(kind, {})
            for strategy in ("best", "random") if info.get("role") != "control" else ("best",):
                per_p = strategies.get(strategy)
                if per_p:
                    ps = sorted(per_p, key=float)
                    ax.plot([float(p) for p in ps], [per_p[p][rate] for p in ps], marker="o", markersize=3,
                            label=f"{name} {strategy}", **(_style(info) if strategy == "best" else {"linestyle": ":"}))
        ax.set_title(f"{kind}s: {rate.upper()} after replacing pixels with the other face's", fontsize=8)
        ax.set_xlabel("% of pixels replaced")
        ax.set_ylabel(f"{rate.upper()} at the threshold")
        _legend(ax)
    fig.tight_layout()
    return save_figure(fig, folder / "replacement.png")


def _summary(summary: dict, folder: Path) -> str:
    kinds = _kinds(summary)
    fig, axes = subplots(len(SUMMARY_SCORES), len(kinds), figsize=(4.6 * len(kinds), 6.6), dpi=90, squeeze=False)
    colours = palette()
    for col, kind in enumerate(kinds):
        for row, (score, title) in enumerate(SUMMARY_SCORES):
            ax = axes[row][col]
            points = [(n, e) for n, e in summary["explainers"].items() if e.get("role") != "control"]
            controls = [(n, e) for n, e in summary["explainers"].items() if e.get("role") == "control"]
            for i, (name, info) in enumerate(controls):
                cell = info["results"].get(kind, {}).get("both", {}).get(score)
                if cell and cell["mean"] is not None:
                    colour = colours[(i + 3) % len(colours)]
                    if not too_few(cell.get("n") or 0):  # below the minimum a band would be a claim
                        ax.axhspan(cell["low"], cell["high"], color=colour, alpha=0.18, label=f"{name} (control)")
                    ax.axhline(cell["mean"], color=colour, linewidth=0.8)
            for x, (name, info) in enumerate(points):
                cell = info["results"].get(kind, {}).get("both", {}).get(score)
                if not cell or cell["mean"] is None:
                    continue
                beats = (cell.get("versus") or {}).get("beats")
                spread = None if too_few(cell.get("n") or 0) else [[cell["mean"] - cell["low"]],
                                                                    [cell["high"] - cell["mean"]]]
                ax.errorbar([x], [cell["mean"]], yerr=spread, fmt="o", color="black" if beats else "grey", capsize=3,
                            markerfacecolor="black" if beats else "white")
                arrow = {"lower": "↓", "higher": "↑"}.get(cell["better"], "")
                ax.annotate(arrow, (x, cell["mean"]), textcoords="offset points", xytext=(7, -3), fontsize=8)
            ax.set_xticks(range(len(points)), [n for n, _ in points], rotation=30, ha="right", fontsize=7)
            ax.set_xlim(-0.6, max(len(points) - 0.4, 0.6))
            ax.set_title(f"{kind}s: {title}", fontsize=9)
            ax.set_ylabel("AUC of the cosine")
            _legend(ax)
    fig.suptitle("filled: beats both controls (95% interval of the difference excludes 0); arrow: better direction",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, folder / "summary.png")


def write_plots(summary: dict, folder: str | Path) -> list[str]:
    """Write ``curves.png``, ``replacement.png`` and ``summary.png`` (and ``roc.png`` when the
    summary has the backbone's verification results) into ``folder``; return their paths."""
    folder = Path(folder)
    paths = [_curves(summary, folder), _replacement(summary, folder), _summary(summary, folder)]
    verification = summary.get("run", {}).get("verification")
    if verification and verification.get("roc"):
        from .roc import write_roc

        scores = verification["pair_scores"]
        paths.append(write_roc([s for _, s, _ in scores], [m for _, _, m in scores],
                               verification["at_threshold"]["threshold"], folder / "roc.png"))
    return paths
