"""Figures as objects: every figure of the toolkit is a :class:`matplotlib.figure.Figure` made
here, never through ``pyplot``, so drawing one neither changes nor needs the global backend (a
notebook's inline backend, ``MPLBACKEND=svg``) and leaves no figure open in pyplot's registry.
A figure carries the resolution it is saved and shown at (``dpi``).

Example:
    >>> import os, tempfile
    >>> fig, ax = subplots(figsize=(2, 2), dpi=50)
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> png_bytes(fig)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> os.path.getsize(save_figure(fig, os.path.join(tempfile.mkdtemp(), "line.png"))) > 500
    True
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from matplotlib import rcParams
from matplotlib.figure import Figure

from .io.atomic import replacing

__all__ = ["Figure", "new_figure", "png_bytes", "save_figure", "subplots", "palette"]


def new_figure(figsize: tuple[float, float], dpi: int = 100, layout: str | None = None) -> Figure:
    """An empty figure of ``figsize`` inches at ``dpi``, attached to no backend."""
    return Figure(figsize=figsize, dpi=dpi, layout=layout)


def subplots(rows: int = 1, cols: int = 1, *, figsize: tuple[float, float], dpi: int = 100,
             squeeze: bool = True, **kwargs: Any) -> tuple[Figure, Any]:
    """``(figure, axes)`` like ``pyplot.subplots``, without pyplot."""
    fig = new_figure(figsize, dpi)
    return fig, fig.subplots(rows, cols, squeeze=squeeze, **kwargs)


def palette() -> list[str]:
    """The colours of the current style's cycle."""
    return rcParams["axes.prop_cycle"].by_key()["color"]


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes, at its own resolution."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi="figure")
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path) -> str:
    """Save ``fig`` as a PNG at its own resolution to ``path`` atomically (a crash leaves no
    half-written file); return the path."""
    with replacing(path) as tmp:
        Path(tmp).write_bytes(png_bytes(fig))
    return str(path)
