"""Strict JSON for result files: no ``NaN`` or ``Infinity`` (which JSON does not allow).

Example:
    >>> import numpy as np
    >>> dumps({"score": float("nan"), "n": np.int64(3), "x": [np.float32(0.5), float("inf")]})
    '{"score": null, "n": 3, "x": [0.5, null]}'
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with numpy scalars made Python numbers and non-finite floats made ``None``."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    np = sys.modules.get("numpy")  # not imported: no numpy scalar can be here (and --help stays numpy-free)
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """``json.dumps`` of :func:`plain` ``(value)``; strict, so anything else non-finite raises."""
    return json.dumps(plain(value), indent=indent, allow_nan=False)
