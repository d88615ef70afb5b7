"""The benchmark's plots: mean deletion and insertion curves per explainer, and FMR/FNMR after
pixel replacement against the share of pixels replaced.

Example:
    >>> import os, tempfile
    >>> s = {"x": {"deletion_curve": [0.9, 0.5], "insertion_curve": [0.2, 0.9],
    ...            "replacement": {"best": {"5": {"fmr": 0.0, "fnmr": 0.5}}}}}
    >>> folder = tempfile.mkdtemp()
    >>> sorted(os.path.basename(p) for p in write_plots(s, folder))
    ['curves.png', 'replacement.png']
"""

from __future__ import annotations

from pathlib import Path

from ..render import plt, save_figure


def write_plots(summary: dict[str, dict], folder: str | Path) -> list[str]:
    """Write ``curves.png`` and ``replacement.png`` into ``folder``; return their paths."""
    folder = Path(folder)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, row in summary.items():
        for ax, key in zip(axes, ("deletion_curve", "insertion_curve")):
            curve = row.get(key)
            if not curve:  # every row of this explainer failed
                continue
            xs = [i / (len(curve) - 1) for i in range(len(curve))] if len(curve) > 1 else [0.0]
            ax.plot(xs, curve, label=name)
    for ax, title in zip(axes, ("deletion: most salient pixels removed first", "insertion: most salient first")):
        ax.set_xlabel("fraction of pixels")
        ax.set_ylabel("cosine to the other face")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    curves = save_figure(fig, folder / "curves.png", dpi=90)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, row in summary.items():
        for strategy, per_p in row.get("replacement", {}).items():
            ps = sorted(per_p, key=float)
            for ax, rate in zip(axes, ("fmr", "fnmr")):
                ax.plot([float(p) for p in ps], [per_p[p][rate] for p in ps], marker="o", label=f"{name} {strategy}")
    for ax, rate in zip(axes, ("FMR", "FNMR")):
        ax.set_xlabel("% of pixels replaced")
        ax.set_ylabel(f"{rate} at the backbone's threshold")
        ax.legend(fontsize=6)
    fig.tight_layout()
    replacement = save_figure(fig, folder / "replacement.png", dpi=90)
    return [curves, replacement]
