"""The Sim2Word figure for people: the verdict, the words first (large, each with what it
means in a sentence and its region on the face), and the counterfactual maps beside the faces.
The diagnostic panels (H_t, H_f, every joint map) are in :mod:`.figure_details`.

A word is drawn as named only when its test supports it; when none is supported the figure says
so in words, and shows no word. The ranking that fits the verdict comes first (what two faces
of one person share; what sets two people apart), the other beneath.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.explainers.explanation import Explanation
    >>> m = {"a": np.eye(8), "b": np.eye(8)}
    >>> e = Explanation(score=0.8, maps=m, threshold=0.9, metadata={"support": {"placements": 19},
    ...                 "rankings": {"distinguishing": [], "shared": []}, "lead_ranking": "distinguishing"})
    >>> [(s["title"], s["lines"]) for s in word_sections(e)]
    [('What sets them apart', []), ('What they share', [])]
    >>> fig = sim2word_figure(e, np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
    >>> fig.get_suptitle(), float(fig.get_size_inches()[0])
    ('Different people: cosine 0.800 < threshold 0.900', 9.0)
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from ..explainers.explanation import Explanation
from ..plotting import Figure, new_figure, save_figure
from ..render import map_on_face
from .explainer import SHOWN  # the words per ranking whose joint maps the explanation keeps
from .figure_details import CMAP, details_figure, render_group  # noqa: F401  (one place to import figures from)

_TITLES = {"distinguishing": ("What sets them apart", "erasing the region makes the faces more alike"),
           "shared": ("What they share", "erasing the region makes the faces less alike")}
_EMPTY = {True: "No attribute explains this pair better than a region of the same size.",
          False: "No attribute does, beyond a region of the same size."}


def render_sim2word(e: Explanation, face_a: np.ndarray, face_b: np.ndarray, path: str | Path) -> str:
    """Write :func:`sim2word_figure` to ``path`` (PNG); return the path."""
    return save_figure(sim2word_figure(e, face_a, face_b), path)


def word_sections(e: Explanation) -> list[dict[str, Any]]:
    """What the figure says: sections (``title``, ``meaning``, ``lines``, ``empty``), the
    verdict's ranking first; each line a named word with its ``side``, ``statement`` and the
    name of the extra map that shows its region (None when there is none)."""
    meta = e.metadata
    if not meta.get("support"):  # the official algorithm: ranked, not tested
        lines = [{"word": w.text, "side": w.details.get("side", "a"), "map": _joint_key(e, w.text, w.details.get("side")),
                  "statement": f"cosine with its region erased {w.details.get('cosine', float('nan')):.3f} "
                               f"(score {w.score:.3f})"} for w in (e.words or [])[:SHOWN]]
        return [{"title": "Top words", "meaning": "official Sim2Word: ranked by the cosine with the word erased, "
                 "not tested against random regions", "lines": lines, "empty": "No eligible attribute."}]
    rankings = meta.get("rankings") or {}
    if not rankings:  # ranked by another value (the uncertainty): the named words as they are
        lines = [{"word": w.text, "side": w.details.get("side", "a"), "map": _joint_key(e, w.text, w.details.get("side")),
                  "statement": f"score {w.score:.3f}"} for w in (e.words or [])[:SHOWN]]
        return [{"title": "Named words", "meaning": meta.get("ranking", ""), "lines": lines, "empty": _EMPTY[True]}]
    lead = meta.get("lead_ranking", "distinguishing")
    both = (meta.get("settings") or {}).get("erase") != "target"
    sections = []
    for name in (lead, *(n for n in _TITLES if n != lead)):
        words = [w for w in rankings.get(name, []) if w["details"].get("supported")][:SHOWN]
        lines = [{"word": w["text"], "side": w["details"]["side"], "map": f"{name} #{k}" if f"{name} #{k}" in e.extra_maps
                  else None, "statement": _statement(e, name, w, both)} for k, w in enumerate(words, start=1)]
        title, meaning = _TITLES[name]
        sections.append({"title": title, "meaning": meaning, "lines": lines, "empty": _EMPTY[name == lead]})
    return sections


def _statement(e: Explanation, ranking: str, word: dict, both: bool) -> str:
    """"erasing it raises the similarity by 0.012; 18 of 19 random regions of its size raise it less (p = 0.05)"."""
    d = word["details"]
    move = "raises" if ranking == "distinguishing" else "lowers"
    where = " on both faces" if both else ""
    text = f"erasing it{where} {move} the similarity by {abs(d['delta']):.3f}"
    row = _row(e, d["side"], d["attribute"])
    if row is not None and row.get("control_s"):
        controls = np.asarray(row["control_s"], dtype=float)
        beaten = int((controls < row["s"]).sum() if ranking == "distinguishing" else (controls > row["s"]).sum())
        change = "raise" if ranking == "distinguishing" else "lower"
        text += f"; {beaten} of {len(controls)} random regions of its size {change} it less"
    return text + f" (p = {d['p_value']:.2f})"


def _row(e: Explanation, side: str, attribute: str) -> dict | None:
    for direction in e.metadata.get("directions", []):
        if direction.get("target") == side:
            return next((r for r in direction.get("attributes", []) if r.get("attribute") == attribute), None)
    return None


def _joint_key(e: Explanation, word: str, side: str | None) -> str | None:
    names = e.metadata.get("joint_map_words", {})
    return next((key for key, by_side in names.items() if by_side.get(side) == word and key in e.extra_maps), None)


def _verdict(e: Explanation) -> str:
    who = {True: "Same person", False: "Different people", None: "Similarity"}[e.same_person]
    sign = "" if e.threshold is None else (" ≥ " if e.same_person else " < ") + f"threshold {e.threshold:.3f}"
    model = f" ({e.backbone})" if e.backbone else ""
    return f"{who}: cosine {e.score:.3f}{sign}{model}"


def sim2word_figure(e: Explanation, face_a: np.ndarray, face_b: np.ndarray) -> Figure:
    """The figure of a Sim2Word explanation for people (see the module docstring)."""
    faces = {"a": face_a, "b": face_b}
    sections = word_sections(e)
    heights = [2.2]
    for section in sections:
        heights += [0.55] + [0.95] * max(len(section["lines"]), 0) + ([0.35] if not section["lines"] else [])
    fig = new_figure((9.0, sum(heights) + 0.7), dpi=100, layout="constrained")
    grid = fig.add_gridspec(len(heights), 5, height_ratios=heights, width_ratios=[1, 1, 1, 1, 0.07])
    for col, side in enumerate(("a", "b")):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(faces[side])
        ax.set_title(f"face {side}", fontsize=10)
        ax.axis("off")
    for col, side in enumerate(("a", "b"), start=2):
        other = "b" if side == "a" else "a"
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(faces[side])
        ax.imshow(map_on_face(e.maps[side], faces[side].shape[:2]), cmap=CMAP, alpha=0.5, vmin=0, vmax=1)
        ax.set_title(f"where {side} differs from {other}\n(counterfactual map H_d)", fontsize=9)
        ax.axis("off")
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps[CMAP]), cax=fig.add_subplot(grid[0, 4]))
    bar.set_label("share of the map's maximum", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    row = 1
    for section in sections:
        ax = fig.add_subplot(grid[row, :])
        ax.axis("off")
        ax.text(0, 0.3, section["title"], fontsize=13, fontweight="bold", va="center")
        ax.text(0, -0.25, section["meaning"], fontsize=8.5, color="0.35", va="center")
        row += 1
        if not section["lines"]:
            ax = fig.add_subplot(grid[row, :])
            ax.axis("off")
            ax.text(0, 0.5, section["empty"], fontsize=11, color="0.3", va="center", style="italic")
            row += 1
        for line in section["lines"]:
            _word_line(fig, grid, row, line, faces, e)
            row += 1
    fig.suptitle(_verdict(e), fontsize=14, fontweight="bold")
    return fig


def _word_line(fig: Figure, grid: Any, row: int, line: dict, faces: dict, e: Explanation) -> None:
    """One named word: its region on its face (the joint map), the word large, the sentence."""
    thumb = fig.add_subplot(grid[row, 0])
    face = faces.get(line["side"], faces["a"])
    thumb.imshow(face)
    if line["map"] is not None:
        heat = e.extra_maps[line["map"]][line["side"]]
        thumb.imshow(map_on_face(heat, face.shape[:2]), cmap=CMAP, alpha=0.5, vmin=0, vmax=1)
    thumb.set_anchor("E")  # beside its sentence
    thumb.axis("off")
    text = fig.add_subplot(grid[row, 1:])
    text.axis("off")
    text.text(0, 0.72, f"{line['word']}  (face {line['side']})", fontsize=13, fontweight="bold", va="center")
    text.text(0, 0.25, "\n".join(textwrap.wrap(line["statement"], 78)), fontsize=10, va="center")
