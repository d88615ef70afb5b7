"""Playing a swap game: every explainer (and the ``random`` and ``centre`` controls) explains
each case, and its map of the swapped face is scored against the planted region.

A case has two forms: ``self``, the mate against its swapped self (the only difference is the
region), and ``probe``, the probe photo against the swapped mate (kept when the swap lowered
their cosine by the game's margin). The pair is (other face, swapped face), so side ``b`` is the
swapped face. The map scored is the one an explainer declares as its answer to "where is this
face unlike the other" (:attr:`~s2w_toolkit.interfaces.Explainer.dissimilarity_map`: an extra
map's name, or its main map).

Rows are streamed to ``RESULTS/scores.jsonl``, one per (case, form, explainer): the case's
region, kind and person, the :mod:`~s2w_toolkit.game.scores` of the map, the words the
explainer names for the swapped face (best first), and the seconds it took; or an error row.
A killed run resumes (``resume=True``) without redoing a row.

Example:
    >>> import numpy as np
    >>> from s2w_toolkit.explainers.explanation import Explanation
    >>> flat = np.ones((4, 4))
    >>> e = Explanation(score=0.5, maps={"a": flat, "b": np.eye(4)}, extra_maps={"neg": {"a": flat, "b": flat}})
    >>> class Declares:
    ...     dissimilarity_map = "neg"
    >>> float(difference_map(Declares, e).sum()), float(difference_map(object, e).sum())
    (16.0, 4.0)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..explainers.explanation import Word
from ..errors import S2WError, row_message
from .scores import map_scores

SCORES_FILE = "scores.jsonl"
FORMS = ("self", "probe")


def difference_map(cls: Any, explanation: Any) -> np.ndarray:
    """The map of the swapped face (side ``b``) that ``cls`` declares as its dissimilarity map."""
    key = getattr(cls, "dissimilarity_map", None)
    if key:
        extra = (explanation.extra_maps or {}).get(key)
        if not extra or "b" not in extra:
            raise S2WError(f"explainer {getattr(cls, 'name', cls)!r} declares the dissimilarity map {key!r} "
                           "but returned none")
        return np.asarray(extra["b"])
    return np.asarray(explanation.maps["b"])


def read_game(folder: str | Path) -> tuple[dict, list[dict]]:
    """A game folder's ``game.json`` and its made cases (the latest row of each case), in an order
    that spreads any first few over people and regions (round-robin over (person, region), each
    group's cases by name): ``--count N`` takes a sample, not one person's eyes."""
    from ..bench.store import read_rows
    from ..io.files import read_regular
    from .build import MANIFEST, SETTINGS

    folder = Path(folder)
    try:
        settings = json.loads(read_regular(folder / SETTINGS, 1 << 24, "a game's settings file"))
    except ValueError as exc:
        raise S2WError(f"{folder / SETTINGS}: not a game's settings file ({exc})") from None
    if not isinstance(settings, dict) or "settings" not in settings:
        raise S2WError(f"{folder / SETTINGS}: not a game's settings file; build one with `s2w game build`")
    cases: dict[str, dict] = {}
    for row in read_rows(folder / MANIFEST, required=()):
        if "case" in row and "error" not in row:
            cases[row["case"]] = row
    if not cases:
        raise S2WError(f"{folder}: the game holds no case")
    groups: dict[tuple[str, str], list[dict]] = {}
    for name in sorted(cases):
        groups.setdefault((cases[name]["person"], cases[name]["region"]), []).append(cases[name])
    ordered = [group[k] for k in range(max(map(len, groups.values()))) for _, group in sorted(groups.items())
               if k < len(group)]
    return settings, ordered


def _face(folder: Path, name: str) -> np.ndarray:
    from ..io.files import inside
    from ..io.images import read_image

    return read_image(inside(folder, name))  # a manifest cannot point outside its game


def game_pair(net: Any, other: np.ndarray, swapped: np.ndarray, source_a: str = "a", source_b: str = "b") -> Any:
    """The :class:`~s2w_toolkit.interfaces.Pair` (other face, swapped face) for ``net``."""
    from ..interfaces import Pair

    batch = net.preprocess(np.stack([other, swapped]))
    return Pair(a=batch[:1], b=batch[1:], image_a=other, image_b=swapped, source_a=source_a, source_b=source_b)


def _words(explanation: Any) -> list[dict]:
    """The words for the swapped face b: the distinguishing ranking where the explainer makes
    both (Sim2Word), else its words."""
    words = explanation.words or []
    ranked = (explanation.metadata or {}).get("rankings", {}).get("distinguishing")
    if ranked is not None:
        words = [Word(**w) for w in ranked]
    return [{"text": w.text, "attribute": w.details.get("attribute", w.text)}
            for w in words if w.details.get("side", "b") == "b"]


def score_case(pair: Any, mask: np.ndarray, net: Any, name: str, cls: type, options: dict, attributes: Any,
               seed: int = 0) -> dict[str, Any]:
    """One explainer on one case's pair: its map's scores against ``mask`` and its words."""
    from ..pipeline import build_explainer

    start = time.perf_counter()
    explanation = build_explainer(cls, options)(pair, net, attributes if cls.uses_attributes else None)
    saliency = difference_map(cls, explanation)
    return {"scores": map_scores(saliency, mask, seed), "words": _words(explanation),
            "cosine": explanation.score, "seconds": time.perf_counter() - start}


def _tasks(cases: list[dict], forms: Sequence[str]) -> list[tuple[dict, str]]:
    return [(case, form) for case in cases for form in forms if form == "self" or case.get("probe_kept")]


def score_game(game: str | Path, out: str | Path, names: Sequence[str], classes: dict[str, type], net: Any,
               options: dict[str, dict], attributes: Any = None, forms: Sequence[str] = FORMS, resume: bool = False,
               overwrite: bool = False, count: int | None = None, seed: int = 0,
               on_case: Callable[[], None] | None = None,
               on_error: Callable[[dict], None] | None = None) -> list[dict]:
    """Score every (case, form) of the game in ``game`` with each explainer of ``names`` into
    ``out/scores.jsonl``; return every row of the file."""
    from ..bench.store import append_row, locked, open_results
    from ..io.folders import writable_folder

    game = Path(game)
    settings, cases = read_game(game)
    if settings["settings"].get("backbone") != net.name:
        raise S2WError(f"{game} was built with backbone {settings['settings'].get('backbone')!r}, not {net.name!r}; "
                       "score it with the same backbone")
    cases = cases[:count]
    folder = writable_folder(out)
    run = {"game": str(game.resolve()), "game_settings": settings["settings"], "backbone": net.name,
           "explainers": list(names), "options": options, "forms": list(forms), "seed": seed}
    with locked(folder):
        done = _start(folder, run, resume, overwrite)
        with open_results(folder, SCORES_FILE) as fd:
            for case, form in _tasks(cases, forms):
                other = _face(game, case["mate"] if form == "self" else case["probe"])
                pair = game_pair(net, other, _face(game, case["swapped"]), case["mate" if form == "self" else "probe"],
                                 case["swapped"])
                mask = _face(game, case["mask"])[..., 0] > 127
                for name in names:
                    if (case["case"], form, name) in done:
                        continue
                    base = {"case": case["case"], "form": form, "explainer": name, "region": case["region"],
                            "kind": case["kind"], "person": case["person"]}
                    try:
                        row = {**base, **score_case(pair, mask, net, name, classes[name], options.get(name, {}),
                                                    attributes, seed)}
                    except S2WError as exc:
                        row = {**base, "stage": "explain", "error": row_message(exc)}
                        if on_error:
                            on_error(row)
                    append_row(fd, row)
                if on_case:
                    on_case()
    return _latest(folder)


def _start(folder: Path, run: dict, resume: bool, overwrite: bool) -> set[tuple[str, str, str]]:
    """The (case, form, explainer) rows already made (``resume``), after checking the settings."""
    from ..bench.store import differing_setting
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    held, scores = folder / "run.json", folder / SCORES_FILE
    if resume and held.is_file():
        old = json.loads(held.read_text(encoding="utf-8"))
        differing = differing_setting(old, json.loads(dumps(run)))
        if differing:
            raise S2WError(f"--resume: {folder} was scored with another {differing}; use --overwrite or another --out")
        return {(r["case"], r["form"], r["explainer"]) for r in _latest(folder) if "error" not in r}
    if scores.is_file() and scores.stat().st_size and not overwrite:
        raise S2WError(f"{folder} already holds game scores; use --resume to finish them, --overwrite to replace "
                       "them, or another --out")
    scores.unlink(missing_ok=True)
    write_text(held, dumps(run, indent=1) + "\n")
    return set()


def _latest(folder: Path) -> list[dict]:
    """The latest row of each (case, form, explainer): a result replaces an earlier error."""
    from ..bench.store import read_rows

    latest: dict[tuple[str, str, str], dict] = {}
    for row in read_rows(folder / SCORES_FILE, repair=True, required=("case", "form", "explainer")):
        key = (row["case"], row["form"], row["explainer"])
        if "error" not in row or key not in latest:
            latest[key] = row
    return list(latest.values())
