"""Matplotlib set up for files, not screens (the Agg backend), and saving a figure atomically.
Every figure of the toolkit is drawn through this module's ``plt``.

Example:
    >>> import os, tempfile
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> os.path.getsize(save_figure(fig, os.path.join(tempfile.mkdtemp(), "line.png"))) > 1000
    True
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io.atomic import replacing  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig: "plt.Figure", path: str | Path, dpi: int = 100) -> str:
    """Save ``fig`` to ``path`` atomically (a crash leaves no half-written PNG), close it, and
    return the path."""
    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return str(path)
