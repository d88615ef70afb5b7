"""Names for output files and table cells made from outside text: explainer names and photo paths.

An output name never leaves its folder (``../../x`` is no path) and two inputs never share
one (``kit/1.jpg`` and ``biden/1.jpg`` do not both write ``attributes-1.png``).

Example:
    >>> safe_name("sim2word"), safe_name("../../x")
    ('sim2word', 'x-...')
    >>> distinct_labels(["kit/1.jpg", "biden/1.jpg", "obama.jpg"])
    ['kit/1.jpg', 'biden/1.jpg', 'obama.jpg']
    >>> distinct_stems(["kit/1.jpg", "biden/1.jpg", "obama.jpg"])
    ['kit-1', 'biden-1', 'obama']
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import PurePath

_UNSAFE = re.compile(r"[^\w.+ -]+")

#: Longest output name stem made here, in characters (file systems allow 255 bytes a name).
MAX_STEM = 100


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def safe_name(name: str) -> str:
    """A file-name stem for ``name`` that stays inside its folder: the name itself when it is
    plain (letters, digits, spaces and ``_.+-``, not starting or ending with a dot), else its plain characters and a
    short hash of the whole name, so that two different names never share a stem."""
    plain = _UNSAFE.sub("_", name).strip("._") or "unnamed"
    if plain == name and len(name) <= MAX_STEM:
        return name
    return f"{plain[:MAX_STEM - 9]}-{_digest(name)}"


def _parts(path: str | os.PathLike[str]) -> tuple[str, ...]:
    parts = PurePath(os.fspath(path)).parts
    return tuple(p for p in parts if p not in ("/", "")) or (os.fspath(path),)


def _shortest_tails(paths: list[str | os.PathLike[str]]) -> list[tuple[str, ...]]:
    """For each path, its fewest trailing parts that no other (different) path ends with."""
    parts = [_parts(p) for p in paths]
    tails = []
    for i, own in enumerate(parts):
        others = [p for j, p in enumerate(parts) if j != i and p != own]
        depth = 1
        while depth < len(own) and any(o[-depth:] == own[-depth:] for o in others):
            depth += 1
        tails.append(own[-depth:])
    return tails


def distinct_labels(paths: list[str | os.PathLike[str]]) -> list[str]:
    """How to show each path in a table: its file name, with as many parent folders as it takes
    to tell it from the other paths."""
    return ["/".join(tail) for tail in _shortest_tails(paths)]


def distinct_stems(paths: list[str | os.PathLike[str]]) -> list[str]:
    """A file-name stem per path, unique within the list: the file's stem, with as many parent
    folders as it takes (joined by ``-``), made safe; a clash left (the same file twice, or
    ``a-b.jpg`` beside ``a/b.jpg``) gets ``-2``, ``-3``..."""
    stems, seen = [], set()
    for path, tail in zip(paths, _shortest_tails(paths)):
        stem = "-".join([*tail[:-1], PurePath(tail[-1]).stem])
        stem = safe_name(stem)
        candidate, n = stem, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem}-{n}"
        seen.add(candidate)
        stems.append(candidate)
    return stems


def remove_outputs(folder: str | os.PathLike[str], stem: str,
                   suffixes: tuple[str, ...] = (".json", ".npz", ".png", "-details.png")) -> None:
    """Remove an earlier run's files ``folder/stem.*`` (JSON, maps, figure), so that a failure of
    this run leaves none of them beside the new files: what is there is this run's."""
    for suffix in suffixes:
        try:
            os.unlink(os.path.join(folder, stem + suffix))
        except FileNotFoundError:
            pass
