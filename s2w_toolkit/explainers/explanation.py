"""``Explanation``: plain data that every explainer returns. No model needed to read it.

Saved to disk (:meth:`Explanation.save`) an explanation is two files: ``NAME.json`` with the
score, words and metadata, naming ``NAME.npz``, a compressed NumPy archive of its maps
(float32, keys ``maps/a``, ``extra/<name>/b``...). :meth:`Explanation.load` reads both back.
``to_json`` alone keeps the maps inline (lists rounded to 5 decimals), for APIs.

:meth:`Explanation.load` trusts neither file: it reads only regular files, only a ``maps_file``
beside the JSON, checks each map's size in the archive before decompressing it (the image size
limit, :func:`~s2w_toolkit.io.limits.max_image_pixels`), and refuses what
:meth:`Explanation.problems` finds, each with a one-line :class:`ExplanationError`.

Example:
    >>> import numpy as np, os, tempfile
    >>> e = Explanation(score=0.9, maps={"a": np.eye(4), "b": np.ones((7, 7))}, explainer="demo")
    >>> Explanation.from_json(e.to_json()).maps["a"].shape
    (4, 4)
    >>> path = e.save(os.path.join(tempfile.mkdtemp(), "demo.json"))
    >>> sorted(os.listdir(os.path.dirname(path))), Explanation.load(path).maps["b"].shape
    (['demo.json', 'demo.npz'], (7, 7))
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import S2WError
from ..io.json_data import dumps

if TYPE_CHECKING:  # numpy is imported where it is used, so that defining a plugin does not load it
    import numpy as np

SIDES = ("a", "b")
#: Rounding error allowed beyond [-1, 1] in a cosine score.
COSINE_SLACK = 1e-4


class ExplanationError(S2WError):
    """An explanation file that cannot be loaded: not a regular file, not an explanation, its
    maps outside its folder or too large, or values :meth:`Explanation.problems` refuses.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "e.json")
        >>> _ = open(path, "w").write("[1, 2]")
        >>> Explanation.load(path)
        Traceback (most recent call last):
        ...
        s2w_toolkit.explainers.explanation.ExplanationError: .../e.json: an explanation is a JSON object, not a list
    """


#: Keys of an explanation's JSON besides the fields: ``same_person`` is derived from them,
#: ``maps_file`` names the archive of the maps (:meth:`Explanation.save`).
_DERIVED_KEYS = ("same_person", "maps_file")
#: The JSON types each field may have.
_TYPES = {"score": ("a number",), "threshold": ("a number", "null"), "explainer": ("a string",),
          "backbone": ("a string",), "metadata": ("an object",), "maps": ("an object", "null"),
          "extra_maps": ("an object", "null"), "words": ("a list", "null"), "same_person": ("a boolean", "null")}


def _json_type(value: Any) -> str:
    """How JSON calls ``value``'s type: ``an object``, ``a list``, ``a string``, ``a number``..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value),
                                                                                     type(value).__name__)


def _check_keys(cls: type, data: Any) -> None:
    """ValueError, in words, for what ``cls(**data)`` would refuse with a raw TypeError or take
    unchecked: not an object, an unknown key, no score or maps, a value of the wrong JSON type."""
    if not isinstance(data, dict):
        raise ValueError(f"an explanation is a JSON object, not {_json_type(data)}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known) - set(_DERIVED_KEYS))
    if unknown:
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known)}")
    if "score" not in data:
        raise ValueError("no 'score'")
    if data.get("maps") is None and data.get("maps_file") is None:
        raise ValueError("no 'maps' and no 'maps_file'")
    for key, allowed in _TYPES.items():
        if key in data and _json_type(data[key]) not in allowed:
            raise ValueError(f"{key!r} is {_json_type(data[key])}, not {' or '.join(allowed)}")


def as_map(value: Any) -> np.ndarray:
    """A 2-D float32 array from a tensor or array; leading singleton axes are dropped."""
    import numpy as np
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float32)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"a map must be 2-D, got shape {arr.shape}")
    return arr


def _side_maps(maps: dict, what: str) -> dict[str, np.ndarray]:
    if set(maps) != set(SIDES):
        raise ValueError(f"{what} must have exactly the keys 'a' and 'b', got {sorted(maps)}")
    out = {}
    for side in SIDES:
        try:
            out[side] = as_map(maps[side])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} side {side!r}: {exc}") from None
    return out


@dataclass
class Word:
    """One attribute word with its score; ``details`` holds explainer-specific numbers.

    Example:
        >>> Word("Big Nose", 0.12, {"s_j": 0.03})
        Word(text='Big Nose', score=0.12, details={'s_j': 0.03})
    """

    text: str
    score: float
    details: dict = field(default_factory=dict)


@dataclass
class Explanation:
    """What an explainer found for one pair.

    ``maps`` has one 2-D map per side (``"a"``, ``"b"``) at any resolution; ``extra_maps`` holds
    further named maps, each again per side. ``words`` are ranked attribute words.

    Example:
        >>> import numpy as np
        >>> e = Explanation(score=0.42, maps={"a": np.ones((2, 2)), "b": np.zeros((2, 2))},
        ...                 words=[Word("Smiling", 0.1)], threshold=0.3)
        >>> e.same_person, Explanation.from_json(e.to_json()).words[0].text
        (True, 'Smiling')
    """

    score: float
    maps: dict[str, Any]
    explainer: str = ""
    backbone: str = ""
    words: list[Word] | None = None
    extra_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    threshold: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.score = float(self.score)
        self.threshold = None if self.threshold is None else float(self.threshold)
        self.maps = _side_maps(self.maps, "maps")
        self.extra_maps = {name: _side_maps(m, f"extra map {name!r}") for name, m in self.extra_maps.items()}
        if self.words is not None:
            self.words = [w if isinstance(w, Word) else Word(**w) for w in self.words]
        self._faces: tuple[Any, Any] | None = None
        self._drawer: Any = None

    def with_faces(self, face_a: np.ndarray, face_b: np.ndarray, drawer: Any = None) -> "Explanation":
        """Attach the aligned faces it explains (RGB uint8 ``(H, W, 3)``) and what draws its
        figures, an :class:`~s2w_toolkit.interfaces.Explainer` (its ``figure`` and
        ``details_figure``; default: the generic figure); return ``self``. Calling an explainer
        does this; neither is saved to JSON."""
        self._faces, self._drawer = (face_a, face_b), drawer
        return self

    def __getstate__(self) -> dict:
        """Pickled and copied without the explainer that draws it (it may hold a network): a
        copy draws the generic figure."""
        return {**self.__dict__, "_drawer": None}

    @property
    def faces(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The two aligned faces, when attached (:meth:`with_faces`)."""
        return self._faces

    def figure(self, details: bool = False) -> Any:
        """Its figure, a :class:`matplotlib.figure.Figure` (the explainer's own figure when the
        explainer made it), or with ``details`` its diagnostic figure (None when the explainer
        has none); the faces must be attached (calling an explainer does it)."""
        if self._faces is None:
            raise S2WError("this explanation has no faces to draw on; call the explainer "
                           "(explainer(pair, backbone)) or attach them with .with_faces(face_a, face_b)")
        if self._drawer is None:
            from ..render import explanation_figure

            return None if details else explanation_figure(self, *self._faces)
        draw = self._drawer.details_figure if details else self._drawer.figure
        return draw(self, *self._faces)

    def _repr_png_(self) -> bytes | None:
        """Jupyter shows the figure inline (PNG bytes; None without faces)."""
        if self._faces is None:
            return None
        from ..plotting import png_bytes

        return png_bytes(self.figure())

    def problems(self) -> list[str]:
        """What makes this explanation unusable: a score that is not a finite cosine in [-1, 1],
        a map that is empty or not finite, a word score that is not finite. Empty when valid.

        Example:
            >>> import numpy as np
            >>> Explanation(score=float("nan"), maps={"a": np.ones((2, 2)), "b": np.zeros((0, 0))}).problems()
            ['score is nan, not a finite cosine in [-1, 1]', "map 'b' is empty (0x0)"]
        """
        import numpy as np
        out = []
        if not (np.isfinite(self.score) and -1.0 - COSINE_SLACK <= self.score <= 1.0 + COSINE_SLACK):
            out.append(f"score is {self.score}, not a finite cosine in [-1, 1]")
        named = [(f"map {side!r}", self.maps[side]) for side in SIDES]
        named += [(f"extra map {name!r} side {side!r}", m[side]) for name, m in self.extra_maps.items() for side in SIDES]
        for label, array in named:
            if array.size == 0:
                out.append(f"{label} is empty ({'x'.join(map(str, array.shape))})")
            elif not np.isfinite(array).all():
                out.append(f"{label} has {int((~np.isfinite(array)).sum())} non-finite values")
        out += [f"word {w.text!r} has score {w.score!r}" for w in self.words or []
                if not isinstance(w.score, (int, float, np.number)) or not np.isfinite(w.score)]
        return out

    @property
    def same_person(self) -> bool | None:
        """The verdict at ``threshold``, or None when no threshold is known."""
        return None if self.threshold is None else self.score >= self.threshold

    def to_dict(self, with_maps: bool = True) -> dict:
        """Plain data for JSON; map values are rounded to 5 decimals (left out without
        ``with_maps``)."""
        import numpy as np

        def maps_out(maps: dict) -> dict:  # 5 significant digits: enough for any figure, a third of the size
            return {side: np.round(maps[side].astype(np.float64), 5).tolist() for side in SIDES}

        return {
            "score": self.score,
            "threshold": self.threshold,
            "same_person": self.same_person,
            "explainer": self.explainer,
            "backbone": self.backbone,
            "maps": maps_out(self.maps) if with_maps else None,
            "extra_maps": {name: maps_out(m) for name, m in self.extra_maps.items()} if with_maps else None,
            "words": None if self.words is None else [asdict(w) for w in self.words],
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Explanation":
        """The explanation of :meth:`to_dict`'s data; ValueError for anything else (not an
        object, an unknown key, a missing score or maps, a value of the wrong type)."""
        _check_keys(cls, data)
        data = {k: v for k, v in data.items() if k not in _DERIVED_KEYS}
        data["extra_maps"] = data.get("extra_maps") or {}
        bad = next((w for w in data.get("words") or [] if not isinstance(w, (dict, Word))), None)
        if bad is not None:
            raise ValueError(f"a word is {_json_type(bad)}, not an object with text, score and details")
        try:
            return cls(**data)
        except TypeError as exc:  # e.g. a word that is not an object of text, score, details
            raise ValueError(str(exc)) from None

    def to_json(self, indent: int | None = None) -> str:
        return dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "Explanation":
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str], figure: bool = True) -> str:
        """Write ``path`` (JSON without the maps) and the maps to the ``.npz`` beside it, each
        atomically (the archive first, so a JSON on disk always has its maps), and, with
        ``figure`` and faces attached, :meth:`figure` to the ``.png`` beside it; return ``path``."""
        import numpy as np
        from ..io.atomic import write_bytes, write_text

        path = Path(path)
        archive = path.with_suffix(".npz")
        arrays = {f"maps/{side}": self.maps[side] for side in SIDES}
        arrays.update({f"extra/{name}/{side}": m[side] for name, m in self.extra_maps.items() for side in SIDES})
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v, np.float32) for k, v in arrays.items()})
        write_bytes(archive, buffer.getvalue())
        data = self.to_dict(with_maps=False)
        data["maps_file"] = archive.name
        data["extra_maps"] = sorted(self.extra_maps)
        write_text(path, dumps(data))
        if figure and self._faces is not None:
            from ..plotting import save_figure

            save_figure(self.figure(), path.with_suffix(".png"))
        return str(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Explanation":
        """An explanation written by :meth:`save` (or a JSON with inline maps), checked: see the
        module docstring. Raises :class:`ExplanationError` (one line naming the file)."""
        from ..io.files import inside, read_regular
        from ..io.limits import max_image_pixels
        from ..io.npz import read_arrays

        path = Path(path)
        try:
            data = json.loads(read_regular(path, what="an explanation file (.json)", error=ExplanationError))
        except ValueError as exc:
            raise ExplanationError(f"{path}: not JSON ({exc})") from None
        limit = max_image_pixels()
        try:
            archive = data.pop("maps_file", None) if isinstance(data, dict) else None
            if archive is not None:
                if not isinstance(archive, str) or archive in ("", ".", "..") or Path(archive).name != archive:
                    raise ValueError(f"maps_file {archive!r} is not the name of a file beside it")
                extra = data.pop("extra_maps", None) or []
                if not isinstance(extra, list) or not all(isinstance(name, str) for name in extra):
                    raise ValueError("'extra_maps' is not a list of names (the maps are in maps_file)")
                _check_keys(cls, {**data, "maps_file": archive})
                inside(path.parent, archive, ExplanationError)  # a symlink out is refused too
                keys = [f"maps/{side}" for side in SIDES] + [f"extra/{n}/{side}" for n in extra for side in SIDES]
                arrays = read_arrays(path.parent / archive, keys, limit, ExplanationError)
                data["maps"] = {side: arrays[f"maps/{side}"] for side in SIDES}
                data["extra_maps"] = {name: {side: arrays[f"extra/{name}/{side}"] for side in SIDES} for name in extra}
            explanation = cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ExplanationError(f"{path}: {exc}") from None
        problems = explanation.problems()
        maps = [explanation.maps[side] for side in SIDES] + [m[side] for m in explanation.extra_maps.values()
                                                               for side in SIDES]
        if limit is not None and any(m.size > limit for m in maps):  # inline maps
            problems.append(f"a map has more than {limit:,} values, the image size limit")
        if problems:
            raise ExplanationError(f"{path}: {'; '.join(problems)}")
        return explanation
