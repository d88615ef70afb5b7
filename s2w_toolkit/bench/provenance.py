"""What each result row was computed from, so that a resumed or merged run never mixes rows of
different photos under one pair-list name.

A pair list's identity (:func:`~s2w_toolkit.bench.pairs.pair_list_id`, in every row's settings)
covers the list's bytes and the resolved image folder; each row that was computed from its
images also records their content hashes (``row["images"] = {"a": sha256, "b": sha256}``, the
hash :class:`~s2w_toolkit.faces.cache.FaceCache` keys aligned faces by). :func:`check_resumed`
refuses to resume rows whose images now hold something else (or are gone), and
:func:`check_merged` refuses to merge rows that give one image path two contents. Error rows
record nothing: they are retried anyway.

Example:
    >>> from s2w_toolkit.data import demo_image
    >>> from s2w_toolkit.faces.cache import FaceCache
    >>> photo = str(demo_image("obama"))
    >>> row = {"key": "p", "explainer": "x", "a": photo, "b": photo, "images": image_hashes(FaceCache(), photo, photo)}
    >>> check_resumed([row], [], "out/results.jsonl", FaceCache().digest)  # the same photos: nothing to say
    >>> check_merged([[row], [{**row, "images": {"a": "0" * 64, "b": "0" * 64}}]], ["s1", "s2"])
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: cannot merge rows made from different photos under one name: .../obama.jpg was ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import S2WError

SIDES = ("a", "b")


def image_hashes(cache: Any, path_a: str, path_b: str) -> dict[str, str]:
    """``{"a": sha256, "b": sha256}`` of a pair's two image files (``cache``: a
    :class:`~s2w_toolkit.faces.cache.FaceCache`, which remembers the hashes it has made)."""
    return {"a": cache.digest(path_a), "b": cache.digest(path_b)}


def check_resumed(rows: Iterable[dict], pairs: Sequence[Any], where: str,
                  digest: Callable[[str], str]) -> None:
    """Refuse (one-line :class:`S2WError`) to resume ``where``'s rows when an image a finished row
    was computed from now holds other bytes, is gone, or was not recorded (a row of an older
    s2w). A row's images are the current list's paths for its key (``pairs``), else the paths
    the row names; ``digest(path)`` hashes a file."""
    specs = {spec.key: spec for spec in pairs}
    now: dict[str, str | None] = {}

    def current(path: str) -> str | None:
        if path not in now:
            try:
                now[path] = digest(path)
            except S2WError:
                now[path] = None
        return now[path]

    for row in rows:
        if "error" in row:
            continue
        recorded = row.get("images")
        if not isinstance(recorded, dict):
            raise S2WError(f"--resume: {where} holds rows that do not record their images' hashes (written by an "
                           "older s2w); use --overwrite or another --out")
        spec = specs.get(row["key"])
        for side in SIDES:
            path = getattr(spec, side) if spec is not None else row.get(side, "")
            found = current(path)
            if found != recorded.get(side):
                state = "is gone or unreadable" if found is None else "holds other bytes"
                raise S2WError(f"--resume: {where}: pair {row['key']} was computed from {path}, which now {state} "
                               f"(content hash {str(recorded.get(side))[:12]}, now {str(found)[:12]}); "
                               "use --overwrite or another --out")


def check_merged(files: Sequence[Iterable[dict]], names: Sequence[Any]) -> None:
    """Refuse (one-line :class:`S2WError`) to merge the rows of ``files`` (named ``names``) when
    one image path was two different photos in them."""
    seen: dict[str, tuple[str, Any, str]] = {}
    for rows, name in zip(files, names):
        for row in rows:
            recorded = row.get("images")
            if "error" in row or not isinstance(recorded, dict):
                continue
            for side in SIDES:
                path, content = row.get(side, ""), recorded.get(side)
                first = seen.setdefault(path, (content, name, row["key"]))
                if first[0] != content:
                    raise S2WError(f"cannot merge rows made from different photos under one name: {path} was "
                                   f"{str(first[0])[:12]} in {first[1]} (pair {first[2]}) and {str(content)[:12]} "
                                   f"in {name} (pair {row['key']})")


def check_merged_results(paths: Sequence[Any]) -> None:
    """:func:`check_merged` on the rows of ``results.jsonl`` files (a partial last line is left
    to the reader that merges them to warn about)."""
    import warnings

    from .store import read_rows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = [read_rows(path) for path in paths]
    check_merged(files, [str(path) for path in paths])
