"""The content-free controls every comparison runs beside the explainers (``random``, a seeded
uniform map, and ``centre``, a blob on the middle of the face: :mod:`~s2w_toolkit.explainers.controls`),
by name. Kept apart from the controls themselves so that reading results imports no torch.

Example:
    >>> with_controls(["sim2word", "centre", "sim2word"])
    ['sim2word', 'centre', 'random']
"""

from __future__ import annotations

#: The controls, by registered name.
CONTROLS = ("random", "centre")


def with_controls(explainers: list[str]) -> list[str]:
    """The explainers (each once) followed by each of :data:`CONTROLS` not already among them."""
    names = list(dict.fromkeys(explainers))
    return names + [c for c in CONTROLS if c not in names]
