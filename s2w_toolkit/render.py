"""The generic figures of explanations, as :class:`matplotlib.figure.Figure` objects
(``*_figure``), and the same written to a PNG file (``render_*``).

The figure of one explanation shows both aligned faces, each map overlaid on its face (maps are
resized to the face), the explainer's words with their scores when it has any, and the score
and verdict.

Example:
    >>> import numpy as np, tempfile, os
    >>> from s2w_toolkit.explainers.explanation import Explanation
    >>> e = Explanation(score=0.5, maps={"a": np.eye(7), "b": np.eye(7)}, explainer="demo")
    >>> faces = np.zeros((2, 150, 150, 3), np.uint8)
    >>> explanation_figure(e, faces[0], faces[1]).get_size_inches().tolist()
    [5.2, 5.6]
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.png")
    >>> render_explanation(e, faces[0], faces[1], path).endswith("demo.png")
    True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.transform import resize

from .explainers.explanation import SIDES, Explanation
from .plotting import Figure, save_figure, subplots


def map_on_face(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A map resized to ``shape`` and scaled to [0, 1] (a flat map becomes zeros)."""
    heat = resize(np.asarray(heat, dtype=np.float64), shape, order=1, mode="edge", anti_aliasing=False)
    low, high = float(heat.min()), float(heat.max())
    return (heat - low) / (high - low) if high > low else np.zeros(shape)


def _caption(e: Explanation) -> str:
    verdict = {None: "", True: "same person", False: "different people"}[e.same_person]
    parts = [f"cosine {e.score:.4f}"]
    if e.threshold is not None:
        parts.append(f"threshold {e.threshold:.4f}: {verdict}")
    if e.backbone:
        parts.append(f"backbone {e.backbone}")
    return f"{e.explainer}\n" + " | ".join(parts)


def render_explanation(e: Explanation, face_a: np.ndarray, face_b: np.ndarray, path: str | Path) -> str:
    """Write :func:`explanation_figure` to ``path`` (PNG); return the path."""
    return save_figure(explanation_figure(e, face_a, face_b), path)


def explanation_figure(e: Explanation, face_a: np.ndarray, face_b: np.ndarray) -> Figure:
    """The figure of ``e`` on the aligned faces: each map over its face, the words, the verdict."""
    faces = {"a": face_a, "b": face_b}
    named = [("map", e.maps)] + list(e.extra_maps.items())
    has_words = bool(e.words)
    cols = 1 + len(named) + (1 if has_words else 0)
    fig, axes = subplots(2, cols, figsize=(2.6 * cols + (1.4 if has_words else 0), 5.6), squeeze=False)
    for row, side in enumerate(SIDES):
        face = faces[side]
        axes[row, 0].imshow(face)
        axes[row, 0].set_title(f"face {side}", fontsize=9)
        for col, (label, maps) in enumerate(named, start=1):
            ax = axes[row, col]
            ax.imshow(face)
            ax.imshow(map_on_face(maps[side], face.shape[:2]), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.set_title(f"{label} ({side})", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    if has_words:
        for ax in axes[:, -1]:
            ax.remove()
        words = e.words[:10]
        ax = fig.add_subplot(1, cols, cols)
        ax.barh([w.text for w in words][::-1], [w.score for w in words][::-1], color="tab:blue")
        ax.set_title("words", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle(_caption(e), fontsize=10)
    fig.tight_layout()
    return fig


def render_attributes(face: np.ndarray, rows: list[dict], maps: np.ndarray, path: str | Path,
                      title: str = "") -> str:
    """Write :func:`attributes_figure` to ``path`` (PNG); return the path."""
    return save_figure(attributes_figure(face, rows, maps, title), path)


def attributes_figure(face: np.ndarray, rows: list[dict], maps: np.ndarray, title: str = "") -> Figure:
    """A grid of the aligned ``face`` with each attribute's map overlaid; ``rows`` are
    :meth:`AttributePrediction.rows` of that face and ``maps`` its ``(A, H, W)`` maps."""
    count = len(rows) + 1
    cols = min(6, count)
    lines = -(-count // cols)
    fig, axes = subplots(lines, cols, figsize=(2.2 * cols, 2.6 * lines), dpi=90, squeeze=False)
    axes[0, 0].imshow(face)
    axes[0, 0].set_title("aligned face", fontsize=8)
    for ax, row, heat in zip(axes.flat[1:], rows, maps):
        ax.imshow(face)
        ax.imshow(np.clip(np.asarray(heat, dtype=np.float64), 0, 1), cmap="jet", alpha=0.5, vmin=0, vmax=1)
        mark = "" if row["present"] else " (absent)"
        word = "" if row["word"] == row["attribute"] else f"{row['word']} "
        ax.set_title(f"{row['attribute']}\n{word}{row['confidence']:.2f}{mark}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def render_comparison(explanations: list[Explanation], face_a: np.ndarray, face_b: np.ndarray,
                      path: str | Path) -> str:
    """Write :func:`comparison_figure` to ``path`` (PNG); return the path."""
    return save_figure(comparison_figure(explanations, face_a, face_b), path)


#: What a map answers (``metadata["evidence"]``, the explainer's ``evidence``) -> its heading and
#: colour map: maps of where the faces are alike and maps of where they differ are not mixed.
EVIDENCE = {"similarity": ("where the faces are alike", "viridis"),
            "dissimilarity": ("where the faces differ", "magma")}


def comparison_figure(explanations: list[Explanation], face_a: np.ndarray, face_b: np.ndarray) -> Figure:
    """Side by side: one row per explanation with its map on each face, grouped by what the maps
    answer (similarity maps first, then dissimilarity maps), each group in its own colour map
    with its colour bar, each row titled with the explainer and what its map shows."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    order = sorted(explanations, key=lambda e: list(EVIDENCE).index(e.metadata.get("evidence", "similarity")))
    rows = len(order)
    fig, axes = subplots(rows, 3, figsize=(5.4, 2.35 * rows + 0.4), dpi=90, squeeze=False,
                         gridspec_kw={"width_ratios": [1, 1, 0.06]})
    for row, e in enumerate(order):
        what, cmap = EVIDENCE.get(e.metadata.get("evidence", "similarity"), EVIDENCE["similarity"])
        for col, (side, face) in enumerate((("a", face_a), ("b", face_b))):
            ax = axes[row, col]
            ax.imshow(face)
            ax.imshow(map_on_face(e.maps[side], face.shape[:2]), cmap=cmap, alpha=0.55, vmin=0, vmax=1)
            ax.axis("off")
            if col == 0:
                label = "a content-free control" if e.metadata.get("control") else what
                ax.set_title(f"{e.explainer}: {label}  (cosine {e.score:.4f})", fontsize=8, loc="left")
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps[cmap]), cax=axes[row, 2])
        bar.set_label("share of the map's maximum", fontsize=6)
        bar.ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig
