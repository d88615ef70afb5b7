"""Where the model files of the ``face-recognition-models`` package live.

The package's ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ships,
so the files are located through the import system without importing the package.

Example:
    >>> model_file("shape_predictor_5_face_landmarks.dat").name
    'shape_predictor_5_face_landmarks.dat'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import CheckpointError


def model_file(name: str) -> Path:
    """Path of one file in ``face_recognition_models/models``; a clear error if absent."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the package 'face-recognition-models' is not installed (pip install face-recognition-models)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / name
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"face-recognition-models has no file {name!r}")
