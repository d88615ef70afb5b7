"""Attribute labels for training and measuring: a labels CSV, or CelebA's ``list_attr_celeba.txt``.

A labels CSV has a ``face`` column and one column per attribute. ``face`` is an image path
relative to the images folder; ``FILE#i`` names the i-th face from the left of a group photo.
A column whose values are yes/no (or 1/-1, 1/0, true/false) is a **binary** attribute; any
other column is a **category**, one class per value. ``unsure``, ``unknown``, ``?`` and empty
cells are missing labels. CelebA's file (a count line, a header of 40 names, then
``000001.jpg 1 -1 ...``) reads as 40 binary attributes.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = path.write_text("face,hair_color,smiling\\na.jpg,black,yes\\nb.jpg,unsure,no\\n")
    >>> table = read_labels(path)
    >>> [(c.name, c.kind, c.classes) for c in table.columns]
    [('Hair Color', 'category', ('black',)), ('Smiling', 'binary', ('yes', 'no'))]
    >>> table.faces, table.values[:, 0].tolist()
    (['a.jpg', 'b.jpg'], [0, -1])
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LabelsError
from ..io.text import read_text

#: Cells that mean "no label".
MISSING = frozenset({"", "unsure", "unknown", "?", "na", "n/a", "nan"})
#: Value pairs read as a binary attribute: (present, absent).
BINARY_VALUES = (("yes", "no"), ("1", "-1"), ("1", "0"), ("true", "false"), ("present", "absent"))


@dataclass(frozen=True)
class LabelColumn:
    """One attribute column: its display name, kind and classes (for binary: present, absent).

    Example:
        >>> LabelColumn("smiling", "Smiling", "binary", ("yes", "no")).words()
        ('Smiling', 'not Smiling')
    """

    key: str
    name: str
    kind: str
    classes: tuple[str, ...]

    def words(self) -> tuple[str, ...]:
        """The word of each class, as the attribute model speaks it."""
        if self.kind == "binary":
            return (self.name, f"not {self.name}")
        return tuple(c.replace("_", " ").title() for c in self.classes)


@dataclass
class LabelTable:
    """Faces, their columns, and per face the class index of each column (-1: missing).

    Example:
        >>> t = LabelTable(["a.jpg"], [LabelColumn("hat", "Hat", "binary", ("yes", "no"))], np.array([[1]]))
        >>> t.columns[0].words()[t.values[0, 0]]
        'not Hat'
    """

    faces: list[str]
    columns: list[LabelColumn]
    values: np.ndarray  # (faces, columns) int
    partition: np.ndarray | None = None  # CelebA's 0 train, 1 valid, 2 test, when known


#: Names whose underscores alone do not give the toolkit's word.
SPECIAL_NAMES = {"5_o_clock_shadow": "5 o'Clock Shadow"}


def display_name(key: str) -> str:
    """``hair_color`` -> ``Hair Color``; ``Big_Nose`` -> ``Big Nose``; ``5_o_Clock_Shadow`` -> ``5 o'Clock Shadow``."""
    if key.lower() in SPECIAL_NAMES:
        return SPECIAL_NAMES[key.lower()]
    words = key.replace("_", " ").split()
    return " ".join(w if w[:1].isupper() or w[:1].isdigit() else w.title() for w in words) or key


def _column(key: str, cells: list[str]) -> LabelColumn:
    seen = sorted({c for c in cells if c not in MISSING})
    for present, absent in BINARY_VALUES:
        if seen and set(seen) <= {present, absent}:
            return LabelColumn(key, display_name(key), "binary", (present, absent))
    return LabelColumn(key, display_name(key), "category", tuple(seen))


def _table(faces: list[str], keys: list[str], rows: list[list[str]], partition=None) -> LabelTable:
    if not faces:
        raise LabelsError("the labels file lists no faces")
    cells = [[(row[j] if j < len(row) else "").strip().lower() for row in rows] for j in range(len(keys))]
    columns = [_column(key, column) for key, column in zip(keys, cells)]
    values = np.full((len(faces), len(columns)), -1, dtype=np.int64)
    for j, (column, cell) in enumerate(zip(columns, cells)):
        index = {c: i for i, c in enumerate(column.classes)}
        values[:, j] = [index.get(c, -1) for c in cell]
    return LabelTable(faces, columns, values, partition)


def _checked_face(face: str, where: str) -> str:
    """``face`` as a labels file names it; a ``#`` index that is not a whole number is an error at ``where``."""
    _, sep, tail = face.rpartition("#")
    if not face:
        raise LabelsError(f"{where}: no face path in the 'face' column")
    if sep and "." not in tail and "/" not in tail and not (tail.isascii() and tail.isdigit()):
        raise LabelsError(f"{where}: face {face!r}: the index after # must be a whole number (0 = the leftmost face)")
    return face


def read_csv_labels(path: str | Path) -> LabelTable:
    """A labels CSV with a ``face`` column (see the module docs)."""
    reader = csv.reader(io.StringIO(read_text(path, LabelsError), newline=""))
    try:
        header = next(reader, None)
        if not header or "face" not in [h.strip() for h in header]:
            raise LabelsError(f"{path}:1: expected a CSV with a 'face' column and one column per attribute")
        header = [h.strip() for h in header]
        at = header.index("face")
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise LabelsError(f"{path}:{max(1, reader.line_num)}: not a readable CSV line ({exc})") from None
    keys = [h for i, h in enumerate(header) if i != at]
    faces = [_checked_face(row[at].strip() if at < len(row) else "", f"{path}:{line}") for line, row in rows]
    return _table(faces, keys, [[cell for i, cell in enumerate(row) if i != at] for _, row in rows])


def _read_partition(path: Path, faces: list[str]) -> np.ndarray:
    """CelebA's split (0 train, 1 valid, 2 test) of each face, from ``list_eval_partition.txt``:
    one ``image split`` line per image, every face of the attribute list among them."""
    split: dict[str, int] = {}
    lines = read_text(path, LabelsError).splitlines()
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise LabelsError(f"{path}:{number}: expected 'image split' with split 0 (train), 1 (valid) or 2 (test), "
                              f"got {line.strip()[:80]!r}")
        split[fields[0]] = int(fields[1])
    missing = next((face for face in faces if face not in split), None)
    if missing is not None:
        raise LabelsError(f"{path}:{len(lines) + 1}: ends without a line for {missing} ({len(split)} images listed, "
                          f"the attribute list has {len(faces)})")
    return np.array([split[face] for face in faces])


def read_celeba_labels(path: str | Path, partition: str | Path | None = None) -> LabelTable:
    """CelebA's ``list_attr_celeba.txt`` (and, when given, ``list_eval_partition.txt``)."""
    lines = read_text(path, LabelsError).splitlines()
    first = lines[0].strip() if lines else ""
    if not (first.isascii() and first.isdigit()) or len(lines) < 2:
        raise LabelsError(f"{path}:1: expected CelebA's list_attr_celeba.txt (a count line, a header of "
                          "attribute names, then one 'image 1 -1 ...' line per image)")
    count, keys = int(first), lines[1].split()
    rows = []
    for number, line in enumerate(lines[2:], 3):
        if len(rows) == count or not line.strip():
            continue
        row = line.split()
        if len(row) != len(keys) + 1:
            raise LabelsError(f"{path}:{number}: {len(row) - 1} values, not one per header name ({len(keys)})")
        rows.append(row)
    if not rows or len(rows) < count:
        raise LabelsError(f"{path}:{len(lines) + 1}: ends after {len(rows)} of the {count} images its count line "
                          "announces")
    faces = [row[0] for row in rows]
    table = _table(faces, keys, [row[1:] for row in rows])
    if partition is not None and Path(partition).is_file():
        table.partition = _read_partition(Path(partition), faces)
    return table


def read_labels(path: str | Path) -> LabelTable:
    """A labels CSV, or CelebA's attribute list (recognised by its count line); a CelebA
    ``list_eval_partition.txt`` beside it gives the official split. Every problem with the
    files is a one-line :class:`~s2w_toolkit.errors.LabelsError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"{path}: no such labels file")
    first = read_text(path, LabelsError).split("\n", 1)[0].strip()
    if first.isascii() and first.isdigit():
        return read_celeba_labels(path, path.parent / "list_eval_partition.txt")
    return read_csv_labels(path)


def face_path(face: str) -> tuple[str, int | None]:
    """``"groups/a.jpg#1"`` -> ``("groups/a.jpg", 1)``; a plain path has no index."""
    path, sep, index = face.rpartition("#")
    return (path, int(index)) if sep and index.isascii() and index.isdigit() else (face, None)


def group_of(face: str) -> str:
    """The folder a face's image is in: the unit a held-out split keeps together."""
    return str(Path(face_path(face)[0]).parent)


def load_labelled_face(face: str, images: str | Path, backbone, aligned: bool = False, detector=None) -> np.ndarray:
    """The face a label row names, aligned as ``backbone`` aligns faces: ``FILE`` (its largest
    face) or ``FILE#i`` (the i-th face from the left). Raises the toolkit's one-line errors."""
    from ..errors import NoFaceError
    from ..faces.align import align_face
    from ..faces.detect import FaceDetector
    from ..io.images import read_image
    from ..pipeline import load_face

    path, index = face_path(face)
    if detector is None and not aligned:
        detector = FaceDetector(landmarks=backbone.template.landmarks)
    if index is None or aligned:
        return load_face(Path(images) / path, backbone, 0, aligned, detector)[0]
    photo = read_image(Path(images) / path)
    found = sorted(detector.detect(photo, min_faces=index + 1), key=lambda f: f.box[0])
    if index >= len(found):
        raise NoFaceError(f"{Path(images) / path}: face #{index} from the left asked, but only {len(found)} found")
    return align_face(photo, found[index].landmarks, backbone.template)
