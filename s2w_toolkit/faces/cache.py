"""Aligned faces cached by what they depend on: the file's bytes, the face index, the template.

A benchmark or an audit reads the same photos again and again (LFW's 6,000 pairs use 7,701
images; faces-dev's 105 pairs use 15). :class:`FaceCache` detects and aligns each (file content,
face index, template) once per run, and with a ``folder`` once for good: a repeated or resumed
run reads the aligned face back from ``folder`` instead of detecting it again. The key is the
SHA-256 of the file's bytes, not its path, so a renamed copy is a hit and a file changed in place
is a miss. Each entry also holds what it was made from (the file's hash, the face index, the
template), checked on read: an entry that does not read back, or that holds another face's
(one entry copied over another), is recomputed with a warning and replaced. Entries are written
atomically (a crash leaves no half-written one); a folder that cannot be written (a read-only
mount, a full disk) is read from but not written, with one warning.

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
import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..io.atomic import write_bytes
from ..io.folders import write_problem
from ..io.images import file_digest
from ..io.paths import usable_path
from .templates import AlignmentTemplate

#: Changes when detection or alignment changes what a cached face holds.
CACHE_VERSION = "faces-2"
MEMORY_FACES = 4096  # faces kept in memory (a 150 px face is 66 kB)
MEMORY_DIGESTS = 65536  # file hashes kept, by path, size, modification time and inode


def template_key(template: AlignmentTemplate) -> str:
    """A short hash of everything in ``template`` that changes an aligned face."""
    digest = hashlib.sha256(repr((template.name, template.size, template.landmarks, template.groups,
                                  template.eyes)).encode())
    digest.update(np.ascontiguousarray(template.points, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


class FaceCache:
    """Aligned faces by (file content hash, face index, template, aligned), in memory and, with
    ``folder``, on disk; ``hits`` and ``misses`` count lookups. ``writable``: whether entries
    are written to ``folder`` (by default: whether a file can be written there, warned about
    once when not); :meth:`digest` is the content hash of a file, as the cache keys it.

    Example:
        >>> FaceCache().folder is None, FaceCache().writable
        (True, False)
    """

    def __init__(self, folder: str | Path | None = None, memory: int = MEMORY_FACES,
                 writable: bool | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.writable = False
        if self.folder is not None:
            self.writable = self._probe() if writable is None else writable
        self.memory = memory
        self._faces: OrderedDict[str, tuple[np.ndarray, dict]] = OrderedDict()
        self._digests: OrderedDict[tuple, str] = OrderedDict()
        self.hits = self.misses = 0

    def _probe(self) -> bool:
        problem = write_problem(self.folder)
        if problem is not None:
            self._cannot_write(problem)
        return problem is None

    def _cannot_write(self, problem: str) -> None:
        self.writable = False
        warnings.warn(f"face cache {self.folder}: cannot be written ({problem}); the run goes on without "
                      "writing it", stacklevel=4)

    def digest(self, path: str | Path) -> str:
        """The SHA-256 of ``path``'s bytes (hex), remembered while its size, modification time and
        inode stay the same; the one-line errors of :func:`~s2w_toolkit.io.images.read_image`.

        Example:
            >>> from s2w_toolkit.data import demo_image
            >>> cache = FaceCache()
            >>> cache.digest(demo_image("obama")) == cache.digest(str(demo_image("obama")))
            True
        """
        path = usable_path(path)
        try:
            st = os.stat(path)
        except OSError:
            return file_digest(path)  # raises the one-line error
        stamp = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._digests.get(stamp)
        if known is None:
            known = self._digests[stamp] = file_digest(path)
            while len(self._digests) > MEMORY_DIGESTS:
                self._digests.popitem(last=False)
        return known

    def identity(self, path: str | Path, template: AlignmentTemplate, face_index: int, aligned: bool) -> dict:
        """What an entry is made from; stored inside it and checked when it is read back."""
        return {"version": CACHE_VERSION, "sha256": self.digest(path), "face_index": int(face_index),
                "template": template_key(template), "aligned": bool(aligned)}

    def key(self, path: str | Path, template: AlignmentTemplate, face_index: int, aligned: bool) -> str:
        """The entry's name: a hash of the file's bytes, the face index, the template and ``aligned``."""
        return self._name(self.identity(path, template, face_index, aligned))

    @staticmethod
    def _name(identity: dict) -> str:
        parts = (identity["version"], identity["sha256"], identity["template"], identity["face_index"],
                 identity["aligned"])
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def load(self, path: str | Path, template: AlignmentTemplate, face_index: int, aligned: bool,
             compute: Callable[[], tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
        """The aligned face and its info for ``path``: from the cache, or from ``compute()`` (which
        detects and aligns), then cached. The info's ``source`` is always ``path``."""
        identity = self.identity(path, template, face_index, aligned)
        key = self._name(identity)
        entry = self._faces.get(key)
        if entry is not None:
            self._faces.move_to_end(key)
        else:
            entry = self._read(key, template, identity, path)
        if entry is None:
            self.misses += 1
            face, info = compute()
            entry = (np.ascontiguousarray(face), {k: v for k, v in info.items() if k != "source"})
            self._write(key, entry, identity)
        else:
            self.hits += 1
        self._faces[key] = entry
        while len(self._faces) > self.memory:
            self._faces.popitem(last=False)
        face, info = entry
        return face.copy(), {"source": str(path), **json.loads(json.dumps(info))}

    def _file(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def _read(self, key: str, template: AlignmentTemplate, identity: dict | None = None,
              path: Any = None) -> tuple[np.ndarray, dict] | None:
        """The entry ``key``, or None; with ``identity``, only an entry made from it."""
        if self.folder is None or not self._file(key).is_file():
            return None
        try:
            with np.load(self._file(key), allow_pickle=False) as data:
                face, info = data["face"], json.loads(data["info"].tobytes().decode("utf-8"))
                made = json.loads(data["identity"].tobytes().decode("utf-8")) if "identity" in data else None
            if face.dtype != np.uint8 or face.shape != (*template.size, 3) or not isinstance(info, dict):
                raise ValueError(f"holds a {face.dtype} {face.shape} face")
        except Exception as exc:  # a damaged entry costs one detection, never the run
            warnings.warn(f"face cache entry {self._file(key)} is unreadable ({exc}); it is replaced", stacklevel=3)
            return None
        if identity is not None and made != identity:
            differs = sorted(k for k in identity if not isinstance(made, dict) or made.get(k) != identity[k])
            warnings.warn(f"face cache entry {self._file(key)} was not made from {path} (face {identity['face_index']}"
                          f"): its {', '.join(differs)} differ; the face is computed again and the entry replaced",
                          stacklevel=3)
            return None
        return face, info

    def _write(self, key: str, entry: tuple[np.ndarray, dict], identity: dict) -> None:
        if self.folder is None or not self.writable:
            return
        face, info = entry
        buffer = io.BytesIO()
        np.savez(buffer, face=face, info=np.frombuffer(json.dumps(info).encode("utf-8"), np.uint8),
                 identity=np.frombuffer(json.dumps(identity).encode("utf-8"), np.uint8))
        try:
            self._file(key).parent.mkdir(exist_ok=True)
            write_bytes(self._file(key), buffer.getvalue())
        except OSError as exc:  # a read-only or full disk costs the cache, not the run: warned once
            self._cannot_write(f"{self._file(key)}: {exc.strerror or exc}")
