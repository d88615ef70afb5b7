"""The user's cache directory, for what the toolkit derives from files and may keep between runs
(converted ONNX graphs, images extracted from insightface ``.bin`` sets).

``$S2W_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/s2w-toolkit``, else ``~/.cache/s2w-toolkit``.
Everything in it is keyed by the content hash of its source and can be deleted at any time.

Example:
    >>> import os
    >>> before = os.environ.get("S2W_CACHE_DIR")
    >>> os.environ["S2W_CACHE_DIR"] = "/tmp/s2w-cache-example"
    >>> str(user_cache_dir("onnx"))
    '/tmp/s2w-cache-example/onnx'
    >>> if before is None:
    ...     del os.environ["S2W_CACHE_DIR"]
    ... else:
    ...     os.environ["S2W_CACHE_DIR"] = before
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "S2W_CACHE_DIR"


def user_cache_dir(kind: str) -> Path:
    """The folder for cached ``kind`` (not created here)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "s2w-toolkit")
    return Path(root) / kind
