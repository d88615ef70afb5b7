"""The xCos figure: both faces, then the patch cosines, the attention and their product as
grids over face a, on fixed colour scales (cosines on [-1, 1]), each cell labelled.

Both faces are aligned to the same template, so cell ``ij`` covers the same part of each face;
the grids are drawn over face a. No pyplot: the figure is a bare ``Figure``, so the caller's
matplotlib backend is left alone.

Example:
    >>> import numpy as np, os, tempfile
    >>> from s2w_toolkit.explainers.explanation import Explanation
    >>> grid = {"a": np.full((4, 4), 0.5), "b": np.full((4, 4), 0.5)}
    >>> e = Explanation(score=0.8, maps=grid, extra_maps={"cosine": grid, "attention": grid},
    ...                 metadata={"xcos": 0.5, "attention": "uniform"}, explainer="xcos")
    >>> faces = np.zeros((2, 150, 150, 3), np.uint8)
    >>> path = render_xcos(e, faces[0], faces[1], os.path.join(tempfile.mkdtemp(), "x.png"))
    >>> os.path.getsize(path) > 5000
    True
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _grid_panel(fig: Any, ax: Any, face: np.ndarray, grid: np.ndarray, title: str, cmap: str, vmin: float,
                vmax: float, fmt: str) -> None:
    h, w = face.shape[:2]
    ax.imshow(face)
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.6, interpolation="nearest",
                      extent=(0, w, h, 0))
    gh, gw = grid.shape
    if gh * gw <= 100:  # label the cells when they are few enough to read
        for i in range(gh):
            for j in range(gw):
                ax.text((j + 0.5) * w / gw, (i + 0.5) * h / gh, format(grid[i, j], fmt), ha="center",
                        va="center", fontsize=5.5, color="black")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)


def render_xcos(explanation: Any, face_a: np.ndarray, face_b: np.ndarray, path: str | os.PathLike) -> str:
    """Write :func:`xcos_figure` to ``path`` (PNG, atomically); return the path."""
    from s2w_toolkit.plotting import save_figure

    return save_figure(xcos_figure(explanation, face_a, face_b), path)


def xcos_figure(explanation: Any, face_a: np.ndarray, face_b: np.ndarray) -> Any:
    """The xCos figure of ``explanation``, a :class:`matplotlib.figure.Figure`."""
    from s2w_toolkit.plotting import new_figure

    cosine = np.asarray(explanation.extra_maps["cosine"]["a"], dtype=np.float64)
    attention = np.asarray(explanation.extra_maps["attention"]["a"], dtype=np.float64)
    product = np.asarray(explanation.maps["a"], dtype=np.float64)
    fig = new_figure((15.5, 3.6), dpi=100)
    axes = fig.subplots(1, 5)
    for ax, face, side in ((axes[0], face_a, "a"), (axes[1], face_b, "b")):
        ax.imshow(face)
        ax.set_title(f"face {side}", fontsize=9)
        ax.axis("off")
    reach = max(float(np.abs(product).max()), 1e-12)
    _grid_panel(fig, axes[2], face_a, cosine, "patch cosine", "RdBu_r", -1.0, 1.0, ".2f")
    _grid_panel(fig, axes[3], face_a, attention, "attention (sums to 1)", "viridis", 0.0,
                max(float(attention.max()), 1e-12), ".3f")
    _grid_panel(fig, axes[4], face_a, product, "cosine x attention", "RdBu_r", -reach, reach, ".3f")
    meta = explanation.metadata
    xcos = meta.get("xcos", float("nan"))
    verdict = {None: "", True: " (same person)", False: " (different people)"}[explanation.same_person]
    fig.suptitle(f"xCos {xcos:.4f} with {meta.get('attention', '?')} attention | backbone cosine "
                 f"{explanation.score:.4f}{verdict} | {explanation.backbone or ''}", fontsize=10)
    fig.tight_layout()
    return fig
