"""Sim2Word's diagnostic figure (``s2w explain --details``): per face, the identity map H_t, the
counter-identity map H_f, the counterfactual map H_d and the joint maps of the five top-ranked
attributes (each marked supported or not), one colour bar, and the change of the cosine when
each is erased beside the same mask placed at random. And the group-mode figure.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.explainers.explanation import Explanation, Word
    >>> m = {"a": np.eye(8), "b": np.eye(8)}
    >>> e = Explanation(score=0.8, maps=m, words=[Word("Big Nose", 0.7, {"side": "a", "cosine": 0.8})],
    ...                 extra_maps={"identity": m, "joint #1": m}, threshold=0.9,
    ...                 metadata={"joint_map_words": {"joint #1": {"a": "Big Nose", "b": ""}}})
    >>> [ax.get_title() for ax in details_figure(e, np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)).axes][:3]
    ['face a', 'identity H_t of a', 'counterfactual H_d of a']
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from ..explainers.explanation import SIDES, Explanation
from ..plotting import Figure, new_figure, save_figure
from ..render import map_on_face

_MAP_TITLES = {"identity": "identity H_t", "counter-identity": "counter-identity H_f",
               "counterfactual": "counterfactual H_d"}
CMAP = "jet"


def details_figure(e: Explanation, face_a: np.ndarray, face_b: np.ndarray) -> Figure:
    """Every map of a Sim2Word explanation, per face, and the erasures against their controls."""
    faces = {"a": face_a, "b": face_b}
    columns = [(name, e.extra_maps[name]) for name in ("identity", "counter-identity") if name in e.extra_maps]
    columns.append(("counterfactual", e.maps))
    columns += [(name, maps) for name, maps in e.extra_maps.items() if name.startswith("joint")]
    cols = 1 + len(columns)
    fig = new_figure((1.75 * cols + 4.6, 5.0), layout="constrained")
    grid = fig.add_gridspec(2, cols + 2, width_ratios=[1.0] * cols + [0.08, 2.5])
    joint_words = e.metadata.get("joint_map_words", {})
    supported = {(w.details.get("side"), w.text) for w in e.words or [] if w.details.get("supported", True)}
    for row, side in enumerate(SIDES):
        face = faces[side]
        ax = fig.add_subplot(grid[row, 0])
        ax.imshow(face)
        ax.set_title(f"face {side}", fontsize=8)
        ax.axis("off")
        for col, (name, maps) in enumerate(columns, start=1):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(face)
            ax.imshow(map_on_face(maps[side], face.shape[:2]), cmap=CMAP, alpha=0.5, vmin=0, vmax=1)
            if name.startswith("joint"):
                word = joint_words.get(name, {}).get(side, "")
                mark = "" if not word else (" (named)" if (side, word) in supported else " (not named)")
                title = f"{name} of {side}\n{word}{mark}" if word else f"{name} of {side}\n(none)"
            else:
                title = f"{_MAP_TITLES.get(name, name)} of {side}"
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps[CMAP]), cax=fig.add_subplot(grid[:, cols]))
    bar.set_label("each map scaled to its own maximum", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    bars = fig.add_subplot(grid[:, cols + 1])
    _judged_bars(bars, e) if e.metadata.get("support") else _score_bars(bars, e)
    caption = e.metadata.get("caption", f"cosine {e.score:.4f}")
    fig.suptitle("\n".join(textwrap.wrap(caption, 160)), fontsize=8)
    return fig


def _score_bars(bars, e: Explanation) -> None:
    """The official chart: the top-5 words by 1 - arccos(s_j)/pi, longest on top."""
    top = sorted((e.words or [])[:5], key=lambda w: w.score)
    labels = [f"{w.text} ({w.details.get('side', '?')})" for w in top]
    bars.barh(labels, [w.score for w in top], color="tab:blue")
    for y, w in enumerate(top):
        bars.text(w.score, y, f" {w.score:.3f} (cos {w.details.get('cosine', float('nan')):.3f})", va="center",
                  fontsize=7)
    if top:  # zoom on the scores: they differ in the second or third decimal
        low, high = min(w.score for w in top), max(w.score for w in top)
        bars.set_xlim(max(0.0, low - 0.02), min(1.0, high + 0.01) + 0.35 * (high - low + 0.03))
    bars.set_xlabel("score 1 - arccos(s_j)/pi of the cosine with the word erased", fontsize=7)
    bars.set_title("top words (official Sim2Word: ranked, not tested)", fontsize=8)
    bars.tick_params(labelsize=7)


def _judged_bars(bars, e: Explanation) -> None:
    """The top-5 eligible words by excess: the cosine change when erased (blue when named, grey
    when not) beside the change of the same region placed at random (mean +- sd), in the order
    of the bars' length."""
    sign = -1 if e.metadata.get("case") == "mate" else 1
    rows = [(d["target"], r) for d in e.metadata.get("directions", []) for r in d["attributes"]
            if r.get("eligible") and "excess" in r]
    top = sorted(rows, key=lambda item: sign * item[1]["excess"], reverse=True)[:5]
    top.sort(key=lambda item: abs(item[1]["delta"]))
    base = e.score
    for y, (side, r) in enumerate(top):
        bars.barh(y, r["delta"], color="tab:blue" if r["supported"] else "0.7")
        bars.errorbar(r["control_mean"] - base, y, xerr=r["control_std"], fmt="|", color="k", ms=10, capsize=2)
        mark = "named" if r["supported"] else "not named"
        selection = "not drawn" if r.get("p_selection") is None else f"{r['p_selection']:.2f}"
        bars.text(0, y + 0.32, f"p={r['p_value']:.2f}, sel. p={selection}, {mark}", fontsize=6, va="center")
    bars.set_yticks(range(len(top)), [f"{r['word']} ({side})" for side, r in top])
    bars.axvline(0, color="k", lw=0.5)
    bars.set_xlabel("change of the cosine when erased (bar) | the same mask at random (mean, sd)", fontsize=7)
    bars.set_title("the five top-ranked attributes", fontsize=8)
    if not top:
        bars.text(0.5, 0.5, "no eligible attribute", ha="center", transform=bars.transAxes, fontsize=8)
    bars.tick_params(labelsize=7)


def render_group(probe: np.ndarray, rows: list[dict], maps: dict[str, np.ndarray], path: str | Path,
                 caption: str) -> str:
    """Write :func:`group_figure` to ``path`` (PNG); return the path."""
    return save_figure(group_figure(probe, rows, maps, caption), path)


def group_figure(probe: np.ndarray, rows: list[dict], maps: dict[str, np.ndarray], caption: str) -> Figure:
    """Group-mode figure: the probe, its identity map, the mean counterfactual map, the mean
    joint maps of the top attributes, and the mean scores of the top words."""
    top = rows[:5]
    panels = [("probe", None), ("identity H_t", maps["identity"]), ("mean H_d", maps["counterfactual"])]
    panels += [(f"#{k + 1} {r['word']}", maps["joint"][r["attribute"]]) for k, r in enumerate(top)]
    fig = new_figure((1.9 * len(panels) + 4.0, 2.9), layout="constrained")
    grid = fig.add_gridspec(1, len(panels) + 1, width_ratios=[1.0] * len(panels) + [2.3])
    for col, (title, heat) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(probe)
        if heat is not None:
            ax.imshow(map_on_face(heat, probe.shape[:2]), cmap=CMAP, alpha=0.5, vmin=0, vmax=1)
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    bars = fig.add_subplot(grid[0, len(panels)])
    scores = [r["mean_angular"] for r in top]
    bars.barh([r["word"] for r in top][::-1], scores[::-1], color="tab:green")
    if top:
        low, high = min(scores), max(scores)
        bars.set_xlim(max(0.0, low - 0.02), min(1.0, high + 0.01) + 0.35 * (high - low + 0.03))
    bars.set_title("mean 1 - arccos(s_j)/pi over the gallery", fontsize=7)
    bars.tick_params(labelsize=7)
    fig.suptitle("\n".join(textwrap.wrap(caption, 150)), fontsize=9)
    return fig
