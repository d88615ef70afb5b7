"""Aligned faces cached by what they depend on: the file's bytes, the face index, the template.

A benchmark or an audit reads the same photos again and again (LFW's 6,000 pairs use 7,701
images; faces-dev's 105 pairs use 15). :class:`FaceCache` detects and aligns each (file content,
face index, template) once per run, and with a ``folder`` once for good: a repeated or resumed
run reads the aligned face back from ``folder`` instead of detecting it again. The key is the
SHA-256 of the file's bytes, not its path, so a renamed copy is a hit and a file changed in place
is a miss. Entries are written atomically (a crash leaves no half-written one); an entry that
does not read back as the face it claims is ignored, with a warning, and replaced.

Example:
    >>> import numpy as np, tempfile
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.templates import dlib_chip_template
    >>> cache, calls = FaceCache(tempfile.mkdtemp()), []
    >>> def align():
    ...     calls.append(1)
    ...     return np.zeros((150, 150, 3), np.uint8), {"source": "x", "aligned": False}
    >>> t = dlib_chip_template()
    >>> face, info = cache.load(demo_image("obama"), t, 0, False, align)
    >>> face, info = cache.load(demo_image("obama"), t, 0, False, align)
    >>> len(calls), cache.hits, info["source"].endswith("obama.jpg")
    (1, 1, True)
    >>> len(FaceCache(cache.folder).load(demo_image("obama"), t, 0, False, align)), len(calls)  # from disk
    (2, 1)
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from ..io.atomic import write_bytes
from ..io.images import file_digest
from .templates import AlignmentTemplate

#: Changes when detection or alignment changes what a cached face holds.
CACHE_VERSION = "faces-1"
MEMORY_FACES = 4096  # faces kept in memory (a 150 px face is 66 kB)


def template_key(template: AlignmentTemplate) -> str:
    """A short hash of everything in ``template`` that changes an aligned face."""
    digest = hashlib.sha256(repr((template.name, template.size, template.landmarks, template.groups,
                                  template.eyes)).encode())
    digest.update(np.ascontiguousarray(template.points, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


class FaceCache:
    """Aligned faces by (file content hash, face index, template, aligned), in memory and, with
    ``folder``, on disk; ``hits`` and ``misses`` count lookups.

    Example:
        >>> FaceCache().folder is None
        True
    """

    def __init__(self, folder: str | Path | None = None, memory: int = MEMORY_FACES) -> None:
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.memory = memory
        self._faces: OrderedDict[str, tuple[np.ndarray, dict]] = OrderedDict()
        self.hits = self.misses = 0

    def key(self, path: str | Path, template: AlignmentTemplate, face_index: int, aligned: bool) -> str:
        """The entry's name: a hash of the file's bytes, the face index, the template and ``aligned``."""
        parts = (CACHE_VERSION, file_digest(path), template_key(template), int(face_index), bool(aligned))
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def load(self, path: str | Path, template: AlignmentTemplate, face_index: int, aligned: bool,
             compute: Callable[[], tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
        """The aligned face and its info for ``path``: from the cache, or from ``compute()`` (which
        detects and aligns), then cached. The info's ``source`` is always ``path``."""
        key = self.key(path, template, face_index, aligned)
        entry = self._faces.get(key)
        if entry is not None:
            self._faces.move_to_end(key)
        else:
            entry = self._read(key, template)
        if entry is None:
            self.misses += 1
            face, info = compute()
            entry = (np.ascontiguousarray(face), {k: v for k, v in info.items() if k != "source"})
            self._write(key, entry)
        else:
            self.hits += 1
        self._faces[key] = entry
        while len(self._faces) > self.memory:
            self._faces.popitem(last=False)
        face, info = entry
        return face.copy(), {"source": str(path), **json.loads(json.dumps(info))}

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def _read(self, key: str, template: AlignmentTemplate) -> tuple[np.ndarray, dict] | None:
        if self.folder is None or not self._file(key).is_file():
            return None
        try:
            with np.load(self._file(key), allow_pickle=False) as data:
                face, info = data["face"], json.loads(data["info"].tobytes().decode("utf-8"))
            if face.dtype != np.uint8 or face.shape != (*template.size, 3) or not isinstance(info, dict):
                raise ValueError(f"holds a {face.dtype} {face.shape} face")
        except Exception as exc:  # a damaged entry costs one detection, never the run
            warnings.warn(f"face cache entry {self._file(key)} is unreadable ({exc}); it is replaced", stacklevel=3)
            return None
        return face, info

    def _write(self, key: str, entry: tuple[np.ndarray, dict]) -> None:
        if self.folder is None:
            return
        face, info = entry
        buffer = io.BytesIO()
        np.savez(buffer, face=face, info=np.frombuffer(json.dumps(info).encode("utf-8"), np.uint8))
        self._file(key).parent.mkdir(exist_ok=True)
        try:
            write_bytes(self._file(key), buffer.getvalue())
        except OSError as exc:  # a full disk costs the cache entry, not the run
            warnings.warn(f"face cache: cannot write {self._file(key)} ({exc})", stacklevel=3)
