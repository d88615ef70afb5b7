"""insightface's evaluation sets (``lfw.bin``, ``cfp_fp.bin``, ``agedb_30.bin``...) as pair lists.

A ``.bin`` is a pickle of ``(images, issame)``: ``2 N`` encoded images (JPEG or PNG bytes of
faces already aligned to 112 x 112 ArcFace crops) and ``N`` booleans; pair ``i`` is images
``2 i`` and ``2 i + 1``. It is read with the restricted unpickler of
:mod:`~s2w_toolkit.weights.safe_pickle`, so a hostile file (one that asks for a function or
a class) is refused before anything runs, like a hostile checkpoint. The standard protocol's
ten folds are consecutive blocks of ``N / 10`` pairs.

The counts are checked against the file's size before anything is built from them (each flag
and each image takes at least a byte of the file, and so does every byte of an image array), so
a small hostile file cannot ask for gigabytes. Each distinct image is written once, byte for
byte, named by its content hash, to a folder keyed by the file's hash (in the user's cache
directory, :func:`~s2w_toolkit.io.user_cache.user_cache_dir` ``("bin")``, unless ``cache`` is
given): an image listed many times is one file. The rest of the benchmark reads them as it
reads any photo; the pairs are marked ``aligned`` (no detection, only resizing to the
backbone's input).

Example:
    >>> import io, pickle, tempfile, pathlib
    >>> from PIL import Image
    >>> def jpeg(v):
    ...     buf = io.BytesIO(); Image.new("RGB", (112, 112), (v, v, v)).save(buf, "JPEG"); return buf.getvalue()
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "tiny.bin").write_bytes(pickle.dumps(([jpeg(10), jpeg(20), jpeg(30), jpeg(40)], [True, False])))
    >>> pairs = read_bin_pairs(folder / "tiny.bin", cache=folder / "cache")
    >>> [(p.same, p.fold, p.aligned, p.key) for p in pairs]
    [(True, 1, True, 'bin:tiny.bin:0'), (False, 6, True, 'bin:tiny.bin:1')]
    >>> len(list((folder / "cache").iterdir()))  # one file per distinct image
    4
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, S2WError
from ..io.atomic import write_bytes
from ..io.user_cache import user_cache_dir
from .pairs import PairSpec

#: The number of folds of the standard protocol.
FOLDS = 10
_SIGNATURES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


def _count(value: object, what: str, path: Path, size: int, flat: bool = False) -> int:
    """How many items ``value`` holds (``flat``: an array's every value), without building them;
    at most ``size`` (the file's bytes)."""
    try:
        count = int(value.size) if flat and isinstance(value, np.ndarray) else len(value)  # type: ignore[arg-type]
    except TypeError:
        raise CheckpointError(f"{path}: expected a list of {what}, found {type(value).__name__}") from None
    if count > size:
        raise CheckpointError(f"{path}: claims {count:,} {what} in a {size:,}-byte file, more than it can hold; "
                              "the file is damaged or hostile")
    return count


def _blobs(images: object, path: Path, size: int) -> list[bytes]:
    """The encoded images as bytes; an image listed many times is one bytes object, and arrays
    may hold no more bytes in all than the file."""
    out, made, total = [], {}, 0
    for item in images:  # type: ignore[attr-defined]
        blob = made.get(id(item))
        if blob is None:
            if isinstance(item, np.ndarray):
                total += item.nbytes
                if total > size:
                    raise CheckpointError(f"{path}: its image arrays claim more bytes than the {size:,}-byte file "
                                          "holds; the file is damaged or hostile")
                blob = np.ascontiguousarray(item, dtype=np.uint8).tobytes()
            elif isinstance(item, (bytes, bytearray)):
                blob = bytes(item)
            else:
                raise TypeError(f"an image is a {type(item).__name__}, not bytes")
            made[id(item)] = blob
        out.append(blob)
    return out


def read_bin(path: str | Path) -> tuple[list[bytes], list[bool]]:
    """The encoded images and the is-same flags of an insightface ``.bin``, checked: ``2 N``
    images, each JPEG or PNG bytes, and ``N`` booleans, no more of either than the file's size
    allows. One-line errors otherwise."""
    from ..weights.safe_pickle import restricted_load

    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            data = restricted_load(stream, str(path), encoding="bytes")
    except OSError as exc:
        raise S2WError(f"{path}: cannot read ({exc.strerror or exc})") from None
    expected = "an insightface .bin (a pickle of encoded face images and is-same flags)"
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise CheckpointError(f"{path}: expected {expected}, found {type(data).__name__}")
    images, issame = data
    n_images, n_flags = _count(images, "images", path, size), _count(issame, "is-same flags", path, size, flat=True)
    if not n_flags or n_images != 2 * n_flags:
        raise CheckpointError(f"{path}: expected two images per is-same flag, found {n_images} images "
                              f"and {n_flags} flags")
    try:
        blobs = _blobs(images, path, size)
        flags = [bool(v) for v in np.asarray(issame).reshape(-1).tolist()]
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: expected {expected} ({exc})") from None
    bad = next((i for i, blob in enumerate(blobs) if not any(blob.startswith(s) for s in _SIGNATURES)), None)
    if bad is not None:
        raise CheckpointError(f"{path}: image {bad} is neither JPEG nor PNG bytes")
    return blobs, flags


def read_bin_pairs(path: str | Path, cache: str | Path | None = None) -> list[PairSpec]:
    """The pairs of an insightface ``.bin``, each distinct image written once into ``cache``
    (see the module docs); keys ``bin:NAME:i``, folds 1..10 in consecutive blocks, every pair aligned."""
    path = Path(path)
    images, flags = read_bin(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    folder = Path(cache) if cache is not None else user_cache_dir("bin") / f"{path.stem}-{digest}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise S2WError(f"{folder}: cannot create the folder for the .bin images ({exc.strerror or exc})") from None
    files, written = [], {}
    for blob in images:
        name = written.get(id(blob))
        if name is None:
            suffix = next(s for sig, s in _SIGNATURES.items() if blob.startswith(sig))
            target = folder / f"{hashlib.sha256(blob).hexdigest()[:32]}{suffix}"
            if not target.is_file() or target.stat().st_size != len(blob):
                try:
                    write_bytes(target, blob)
                except OSError as exc:
                    raise S2WError(f"{target}: cannot write a .bin image ({exc.strerror or exc})") from None
            name = written[id(blob)] = str(target)
        files.append(name)
    n = len(flags)
    return [PairSpec(files[2 * i], files[2 * i + 1], flags[i], fold=1 + i * FOLDS // n, key=f"bin:{path.name}:{i}",
                     aligned=True) for i in range(n)]
