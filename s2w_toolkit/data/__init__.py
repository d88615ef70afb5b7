"""Bundled demo faces (public domain; see ``faces/NOTICE``).

Example:
    >>> demo_image("biden").name
    'biden.jpg'
"""

from __future__ import annotations

from pathlib import Path

FACES_DIR = Path(__file__).parent / "faces"
DEMO_NAMES = ("obama", "obama2", "obama3", "biden")
#: The pair that ``s2w verify`` and ``s2w explain`` use when no image is given.
DEMO_PAIR = ("obama", "obama2")


def demo_image(name: str) -> Path:
    """Path of a bundled demo portrait by stem (``obama``, ``obama2``, ``obama3``, ``biden``)."""
    if name not in DEMO_NAMES:
        raise KeyError(f"unknown demo image {name!r}; known: {', '.join(DEMO_NAMES)}")
    return FACES_DIR / f"{name}.jpg"
