"""The report's charts, drawn from the numbers, as ``data:image/png;base64,...`` URIs: nothing is
fetched by the page (the figures read from the result folder are :mod:`.figures`).

Example:
    >>> uri = distribution_chart([0.9, 0.8, 0.7, 0.2, 0.3], [True, True, False, False, False], 0.5)
    >>> uri.startswith("data:image/png;base64,"), len(uri) > 1000
    (True, True)
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from pathlib import Path


def data_uri(png: bytes) -> str:
    """PNG bytes as a data URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def roc_chart(scores: Sequence[float], same: Sequence[bool], threshold: float) -> str:
    """ROC and DET with the operating point and the EER (:func:`s2w_toolkit.bench.roc.write_roc`)."""
    from ..bench.roc import write_roc

    with tempfile.TemporaryDirectory() as tmp:
        return data_uri(Path(write_roc(scores, same, threshold, Path(tmp) / "roc.png")).read_bytes())


def distribution_chart(scores: Sequence[float], same: Sequence[bool], threshold: float) -> str:
    """Histograms of the mate and non-mate scores with the threshold."""
    import numpy as np

    from ..plotting import png_bytes, subplots

    s, labels = np.asarray(scores, dtype=float), np.asarray(same, dtype=bool)
    bins = np.linspace(min(s.min(), threshold) - 0.02, max(s.max(), threshold) + 0.02, 31)
    fig, ax = subplots(figsize=(7, 3.2), dpi=90)
    ax.hist(s[labels], bins=bins, alpha=0.6, color="tab:blue", label=f"mates ({labels.sum()})")
    ax.hist(s[~labels], bins=bins, alpha=0.6, color="tab:orange", label=f"non-mates ({(~labels).sum()})")
    ax.axvline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:.4f}")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return data_uri(png_bytes(fig))
