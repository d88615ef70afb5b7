"""Lists of face pairs to benchmark on: the bundled demo set, a CSV, LFW ``pairs.txt`` or a folder.

``read_pairs(source)`` picks the reader from ``source``: ``None`` is the bundled six-pair set
(:data:`BUNDLED`, over the demo portraits), a ``.csv`` has the columns ``a,b,same``, a
``.txt`` is LFW's ``pairs.txt``, a ``.bin`` is an insightface evaluation set
(:mod:`~s2w_toolkit.bench.insightface_bin`: ``lfw.bin``, ``cfp_fp.bin``, ``agedb_30.bin``) and a folder holds one sub-folder of images per identity, from
which pairs are drawn at random (seeded). A CSV may add ``face_a``/``face_b`` columns (face
index, 0 = the largest). Every pair has a stable, unique ``key`` made from its two image paths
as the list writes them (and face indices other than 0, as ``path@index``), so it does not
change when lines are added or moved; :func:`pair_list_id` names the list itself, so that a run
is resumed or merged only with its own list; :func:`shard` splits a list for parallel runs
(``--shard 2/4``).

Example:
    >>> pairs = read_pairs()
    >>> len(pairs), sum(p.same for p in pairs)
    (6, 3)
    >>> pairs[0].key, Path(pairs[0].a).name, Path(pairs[0].b).name
    ('csv:obama.jpg|obama2.jpg', 'obama.jpg', 'obama2.jpg')
    >>> [p.key for p in shard(pairs, *parse_shard("2/4"))]
    ['csv:obama.jpg|biden.jpg', 'csv:obama3.jpg|biden.jpg']
    >>> pair_list_id(None)[:8]
    'bundled:'
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Callable

from ..data import FACES_DIR
from ..errors import S2WError
from ..io.suffixes import is_image_name
from ..io.text import read_text

#: The bundled pair set: 3 mate and 3 non-mate pairs over the demo portraits in ``data/faces``.
BUNDLED = Path(__file__).resolve().parent.parent / "data" / "pairs.csv"
_SAME = {"1": True, "true": True, "yes": True, "same": True,
         "0": False, "false": False, "no": False, "different": False}


@dataclass(frozen=True)
class PairSpec:
    """Two image paths, whether they show the same person, the LFW fold and a unique key;
    ``aligned`` when the images are faces already cropped (an insightface ``.bin``).

    Example:
        >>> PairSpec("x/a.jpg", "x/b.jpg", same=True, key="csv:2")
        PairSpec(a='x/a.jpg', b='x/b.jpg', same=True, fold=0, key='csv:2', face_a=0, face_b=0, aligned=False)
    """

    a: str
    b: str
    same: bool
    fold: int = 0
    key: str = ""
    face_a: int = 0
    face_b: int = 0
    aligned: bool = False


def read_pairs(source: str | os.PathLike[str] | None = None, root: str | os.PathLike[str] | None = None,
               *, count: int | None = None, seed: int = 0) -> list[PairSpec]:
    """Read (or, for a folder, draw) the pairs of ``source``; see the module docstring.

    Relative image paths are joined with ``root``: by default the faces folder for the bundled
    set and the file's own folder for a CSV or ``pairs.txt``. ``count`` keeps the first
    ``count`` pairs of a file, and is the number of pairs drawn from a folder (default 100, half
    of them mates); ``seed`` makes that draw reproducible.
    """
    if count is not None and count < 1:
        raise S2WError(f"pair count must be at least 1, not {count}")
    if source is None:
        pairs = _read_csv(BUNDLED, Path(root) if root is not None else FACES_DIR)
    else:
        path = Path(source)
        if path.is_dir():
            return _sample_folder(path, 100 if count is None else count, seed)
        if not path.is_file():
            raise S2WError(f"{path}: no such pairs file")
        base = Path(root) if root is not None else path.parent
        suffix = path.suffix.lower()
        if suffix == ".csv":
            pairs = _read_csv(path, base)
        elif suffix == ".txt":
            pairs = _read_lfw(path, base)
        elif suffix == ".bin":
            from .insightface_bin import read_bin_pairs

            pairs = read_bin_pairs(path)
        else:
            raise S2WError(f"{path}: unknown pairs format {path.suffix or '(no suffix)'!r}; known: "
                           ".csv (a,b,same), .txt (LFW pairs.txt), .bin (insightface: lfw.bin, cfp_fp.bin, ...), "
                           "or a folder of identity folders")
    return pairs if count is None else pairs[:count]


def pair_list_id(source: str | os.PathLike[str] | None, *, root: str | os.PathLike[str] | None = None,
                 count: int | None = None, seed: int = 0) -> str:
    """What identifies a pair list: a file by the hash of its content and the resolved folder its
    image paths are relative to (``root``, else the file's own folder; a ``.bin`` holds its
    images), a folder by its path, the seed and the count it was drawn with. (``--count`` of a file
    and ``--shard`` take parts of the same list, so they keep its identity.) What the images
    themselves hold is recorded per result row (:mod:`~s2w_toolkit.bench.provenance`)."""
    if source is None:
        where = "" if root is None else f":root={Path(root).resolve()}"
        return f"bundled:{hashlib.sha256(BUNDLED.read_bytes()).hexdigest()[:12]}{where}"
    path = Path(source)
    if path.is_dir():
        return f"folder:{path.resolve()}:seed={seed}:count={100 if count is None else count}"
    images = path.parent if root is None else Path(root)
    where = "" if path.suffix.lower() == ".bin" else f":root={images.resolve()}"
    try:
        return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}{where}"
    except OSError as exc:
        raise S2WError(f"{path}: cannot read the pairs file ({exc.strerror or exc})") from None


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"I/N"`` (1-based, ``1 <= I <= N``) into ``(I, N)``.

    Example:
        >>> parse_shard("3/4")
        (3, 4)
    """
    index, slash, total = text.strip().partition("/")
    try:
        i, n = int(index), int(total)
    except ValueError:
        i = n = 0
    if not slash or not 1 <= i <= n:
        raise S2WError(f"shard {text!r}: expected I/N with 1 <= I <= N, e.g. 1/4")
    return i, n


def shard(pairs: list[PairSpec], index: int, total: int) -> list[PairSpec]:
    """Shard ``index`` of ``total`` (1-based): every ``total``-th pair from position ``index - 1``.

    Example:
        >>> shard(list("abcdefg"), 1, 3)
        ['a', 'd', 'g']
    """
    if not 1 <= index <= total:
        raise S2WError(f"shard {index}/{total}: expected I/N with 1 <= I <= N, e.g. 1/4")
    return pairs[index - 1 :: total]


def _joined(base: Path, name: str) -> str:
    return str(base / name)


def _unique(pairs: list[PairSpec]) -> list[PairSpec]:
    """Make keys unique by appending ``#2``, ``#3``... to repeats, in order."""
    seen: dict[str, int] = {}
    out = []
    for p in pairs:
        n = seen[p.key] = seen.get(p.key, 0) + 1
        out.append(p if n == 1 else PairSpec(p.a, p.b, p.same, p.fold, f"{p.key}#{n}", p.face_a, p.face_b, p.aligned))
    return out


def _whole(text: str) -> bool:  # str.isdigit alone also takes "²", which int() refuses
    return text.isascii() and text.isdigit()


def _face_index(text: str, where: str) -> int:
    if not text:
        return 0
    if not _whole(text):
        raise S2WError(f"{where} must be a face index (0 = the largest face), not {text!r}")
    return int(text)


def _keyed(path: str, face: int) -> str:
    return path if face == 0 else f"{path}@{face}"


def _read_csv(path: Path, base: Path) -> list[PairSpec]:
    pairs = []
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        missing = {"a", "b", "same"} - {c.strip().lower() for c in reader.fieldnames or []}
        if missing:
            raise S2WError(f"{path}:1: header must name the columns a,b,same (missing {','.join(sorted(missing))})")
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
            where = f"{path}:{reader.line_num}"
            if not row.get("a") or not row.get("b"):
                raise S2WError(f"{where}: both image paths a and b are needed")
            same = _SAME.get(row.get("same", "").lower())
            if same is None:
                raise S2WError(f"{where}: same must be 1/0, true/false, yes/no or same/different, "
                               f"not {row.get('same')!r}")
            faces = [_face_index(row.get(column, ""), f"{where}: {column}") for column in ("face_a", "face_b")]
            key = f"csv:{_keyed(row['a'], faces[0])}|{_keyed(row['b'], faces[1])}"
            pairs.append(PairSpec(_joined(base, row["a"]), _joined(base, row["b"]), same, 0, key, *faces))
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise S2WError(f"{path}:{max(1, reader.reader.line_num)}: not a readable CSV line ({exc})") from None
    if not pairs:
        raise S2WError(f"{path}: no pairs")
    return _unique(pairs)


def _read_lfw(path: Path, base: Path) -> list[PairSpec]:
    lines = [(n, line.split()) for n, line in enumerate(read_text(path).splitlines(), 1)]
    lines = [(n, fields) for n, fields in lines if fields]
    if not lines:
        raise S2WError(f"{path}:1: empty pairs file")
    line_no, header = lines[0]
    try:
        folds, per = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    except ValueError:
        folds = per = 0
    if len(header) > 2 or folds < 1 or per < 1:
        raise S2WError(f"{path}:{line_no}: expected a header like '10 300' (folds, pairs per class) or '1100'")
    total, pairs = folds * 2 * per, []
    for j, (line_no, fields) in enumerate(lines[1:]):
        where = f"{path}:{line_no}"
        if j >= total:
            raise S2WError(f"{where}: more pair lines than the header's {folds} x 2 x {per}")
        fold, same = j // (2 * per), j % (2 * per) < per
        want = "name n1 n2" if same else "name1 n1 name2 n2"
        if len(fields) != (3 if same else 4):
            raise S2WError(f"{where}: expected {len(want.split())} fields '{want}' (fold {fold + 1}, "
                           f"{'mate' if same else 'non-mate'}), got {len(fields)}")
        name1, n1, name2, n2 = (fields[0], fields[1], fields[0], fields[2]) if same else fields
        if not (_whole(n1) and _whole(n2)):
            raise S2WError(f"{where}: image numbers must be whole numbers, got {n1!r} and {n2!r}")
        s1, s2 = f"{name1}_{int(n1):04d}", f"{name2}_{int(n2):04d}"
        pairs.append(PairSpec(_joined(base, f"{name1}/{s1}.jpg"), _joined(base, f"{name2}/{s2}.jpg"),
                              same, fold, f"lfw:f{fold}:{s1}:{s2}"))
    if len(pairs) < total:
        raise S2WError(f"{path}:{lines[-1][0] + 1}: file ends after {len(pairs)} of the header's "
                       f"{folds} x 2 x {per} = {total} pair lines")
    return _unique(pairs)


def _draw(rng: random.Random, wanted: int, pool: Callable[[], list[tuple[Path, Path]]],
          one: Callable[[], tuple[Path, Path]], available: int, what: str, folder: Path) -> list[tuple[Path, Path]]:
    """``wanted`` distinct unordered pairs: from the full pool when it is small, else by rejection."""
    if wanted > available:
        raise S2WError(f"{folder}: only {available} distinct {what} pairs, {wanted} asked for; ask for fewer")
    if 2 * wanted > available:
        return rng.sample(pool(), wanted)
    seen: set[tuple[Path, Path]] = set()
    out = []
    while len(out) < wanted:
        x, y = one()
        if (x, y) not in seen and (y, x) not in seen:
            seen.add((x, y))
            out.append((x, y))
    return out


def identity_folders(folder: Path) -> dict[str, list[Path]]:
    """``{person: [image, ...]}`` of a folder of identity folders (sorted; hidden names and
    folders without images left out)."""
    idents = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in d.iterdir() if is_image_name(p) and not p.name.startswith("."))
        if images:
            idents[d.name] = images
    return idents


def _sample_folder(folder: Path, count: int, seed: int) -> list[PairSpec]:
    idents = identity_folders(folder)
    if len(idents) < 2:
        raise S2WError(f"{folder}: needs at least 2 identity folders with images, found {len(idents)}")
    names, multi = list(idents), [n for n, imgs in idents.items() if len(imgs) >= 2]
    n_mates, n_non = count // 2, count - count // 2
    if n_mates and not multi:
        raise S2WError(f"{folder}: no identity folder has 2 images, so there are no mate pairs")
    rng = random.Random(seed)
    sizes = [len(imgs) for imgs in idents.values()]
    mate_total = sum(comb(s, 2) for s in sizes)

    def mate() -> tuple[Path, Path]:
        a, b = rng.sample(idents[rng.choice(multi)], 2)
        return a, b

    def non_mate() -> tuple[Path, Path]:
        i, j = rng.sample(names, 2)
        return rng.choice(idents[i]), rng.choice(idents[j])

    def all_mates() -> list[tuple[Path, Path]]:
        return [(a, b) for imgs in idents.values() for k, a in enumerate(imgs) for b in imgs[k + 1 :]]

    def all_non_mates() -> list[tuple[Path, Path]]:
        return [(a, b) for k, i in enumerate(names) for j in names[k + 1 :] for a in idents[i] for b in idents[j]]

    mates = _draw(rng, n_mates, all_mates, mate, mate_total, "mate", folder)
    nons = _draw(rng, n_non, all_non_mates, non_mate, comb(sum(sizes), 2) - mate_total, "non-mate", folder)
    pairs = []
    for k in range(max(n_mates, n_non)):  # interleaved, so that any prefix or shard is balanced
        for same, drawn in ((True, mates), (False, nons)):
            if k < len(drawn):
                a, b = drawn[k]
                rel_a, rel_b = a.relative_to(folder).as_posix(), b.relative_to(folder).as_posix()
                pairs.append(PairSpec(str(a), str(b), same, 0, f"dir:{rel_a}:{rel_b}"))
    return pairs
