"""Building a swap game: every planned case made, scored by the backbone and written to a game
folder that any later run (``s2w game score``) reads without detecting a face again.

A game folder holds:

- ``game.json``: the settings (backbone, its weights' fingerprint, regions, donors, seed, margin,
  blend), and at the end the counts per region (swaps, probe cases kept, null cases, errors);
- ``manifest.jsonl``: one row per case, streamed (a killed run resumes with ``--resume``):
  ``case``, ``kind`` (``swap`` or ``null``), ``person``, ``region``, the ``probe``, ``mate``,
  ``donor`` and ``swapped`` faces and the ``mask`` (PNG files in the folder), the source
  ``photos``, the ``cosine`` of the probe and the mate before and after the swap and of the mate
  with its swapped self, the ``drop``, and ``probe_kept``; or an ``error`` row naming the photo
  or case that failed;
- ``faces/``: each photo's face as the backbone aligns it; ``cases/``: each swapped face and its
  mask (white: the pixels the swap may have changed; every other pixel equals the mate's).

Example:
    >>> import tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.data import demo_image
    >>> people = {"obama": [str(demo_image("obama")), str(demo_image("obama2"))], "biden": [str(demo_image("biden"))]}
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> summary = build_game(people, net, tempfile.mkdtemp(), ["nose"], donors=1)
    >>> summary["counts"]["nose"]["swaps"], summary["counts"]["nose"]["nulls"]
    (1, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import S2WError, row_message
from .blend import BLENDS
from .cases import PlannedCase, plan_cases

MANIFEST = "manifest.jsonl"
SETTINGS = "game.json"

#: A probe case is kept when the swap lowers the probe-to-mate cosine by at least this much (a
#: null case is always kept). One region lowers it by a median 0.01 to 0.04 with dlib-resnet.
DEFAULT_MARGIN = 0.01


def _write_png(path: Path, array: np.ndarray) -> str:
    from PIL import Image

    from ..io.atomic import replacing

    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
    return path.as_posix()


def _faces(photos: Sequence[str], net: Any, aligned: bool, folder: Path,
           names: dict[str, str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[dict]]:
    """Aligned faces, their 68 landmarks and the error rows of the photos that fail."""
    from ..faces.aligned_landmarks import aligned_landmarks
    from ..pipeline import load_face

    faces, errors = {}, []
    for photo in photos:
        try:
            faces[photo] = load_face(photo, net, 0, aligned)[0]
        except S2WError as exc:
            errors.append({"stage": "load", "photo": photo, "error": row_message(exc)})
    points = aligned_landmarks(np.stack(list(faces.values())), net.template) if faces else []
    for photo, face in faces.items():
        _write_png(folder / "faces" / f"{names[photo]}.png", face)
    return faces, dict(zip(faces, points)), errors


def _face_names(people: dict[str, list[str]]) -> dict[str, str]:
    from ..io.names import distinct_stems, safe_name

    names = {}
    for person, photos in people.items():
        for photo, stem in zip(photos, distinct_stems(photos)):
            names[photo] = f"{safe_name(person)}/{stem}"
    return names


def _cosines(net: Any, faces: list[np.ndarray], batch_size: int) -> np.ndarray:
    """Unit embeddings of ``faces``, in chunks of ``batch_size`` (one pass each)."""
    import torch

    from ..targets import unit_embeddings

    units = [unit_embeddings(net, net.preprocess(np.stack(faces[i:i + batch_size])))
             for i in range(0, len(faces), batch_size)]
    return torch.cat(units).cpu().numpy().astype(np.float64)


def _person_rows(cases: list[PlannedCase], faces: dict, points: dict, net: Any, folder: Path, names: dict,
                 blend: str, margin: float, batch_size: int) -> list[dict]:
    """Make one person's cases; their faces go through the backbone as one batch."""
    from .swap import place_region

    probe, mate = cases[0].probe, cases[0].mate
    if probe not in faces or mate not in faces:
        missing = probe if probe not in faces else mate
        return [{"stage": "case", "case": c.case_id, "person": c.person, "region": c.region,
                 "error": f"{missing}: its face could not be loaded"} for c in cases]
    made, rows = [], []
    for case in cases:
        if case.donor not in faces:
            rows.append({"stage": "case", "case": case.case_id, "person": case.person, "region": case.region,
                         "error": f"{case.donor}: its face could not be loaded"})
            continue
        try:
            swap = place_region(faces[mate], points[mate], faces[case.donor], points[case.donor], case.region, blend)
        except S2WError as exc:
            rows.append({"stage": "case", "case": case.case_id, "person": case.person, "region": case.region,
                         "error": f"{case.mate} with {case.donor}: {exc}"})
            continue
        made.append((case, swap))
    if not made:
        return rows
    units = _cosines(net, [faces[probe], faces[mate]] + [swap.image for _, swap in made], batch_size)
    before = float(units[0] @ units[1])
    for k, (case, swap) in enumerate(made):
        after, self_cos = float(units[0] @ units[2 + k]), float(units[1] @ units[2 + k])
        stem = f"cases/{case.case_id}"
        rows.append({
            "case": case.case_id, "kind": case.kind, "person": case.person, "region": case.region,
            "donor_person": case.donor_person, "probe": f"faces/{names[probe]}.png",
            "mate": f"faces/{names[mate]}.png", "donor": f"faces/{names[case.donor]}.png",
            "swapped": os.path.relpath(_write_png(folder / f"{stem}.png", swap.image), folder),
            "mask": os.path.relpath(_write_png(folder / f"{stem}-mask.png", swap.support.astype(np.uint8) * 255),
                                    folder),
            "photos": {"probe": probe, "mate": mate, "donor": case.donor},
            "support_fraction": swap.support_fraction, "scale": swap.scale,
            "cosine": {"probe_before": before, "probe_after": after, "self": self_cos},
            "drop": before - after, "probe_kept": case.kind == "null" or before - after >= margin})
    return rows


def build_game(people: dict[str, list[str]], net: Any, out: str | os.PathLike[str], regions: Sequence[str],
               donors: int = 2, seed: int = 0, margin: float = DEFAULT_MARGIN, blend: str = "poisson",
               aligned: bool = False, batch_size: int = 64, resume: bool = False, overwrite: bool = False,
               on_person: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the game of ``people`` (``{person: [photo, ...]}``) on ``net`` into ``out`` and return
    ``game.json``'s content. Settings that differ from a folder's own refuse ``resume``."""
    from ..weights.fingerprint import weights_fingerprint
    from ..bench.store import locked
    from ..io.folders import writable_folder

    if blend not in BLENDS:
        raise S2WError(f"unknown blend {blend!r}; known: {', '.join(BLENDS)}")
    plan = plan_cases(people, regions, donors, seed)
    folder = writable_folder(out)
    settings = {"backbone": net.name, "weights": weights_fingerprint(net), "regions": list(regions),
                "donors": donors, "seed": seed, "margin": margin, "blend": blend, "aligned": aligned,
                "people": {person: list(photos) for person, photos in people.items()}}
    with locked(folder):
        done = _start(folder, settings, resume, overwrite)
        names = _face_names(people)
        todo = [c for c in plan if c.case_id not in done]
        faces, points, load_errors = _faces(sorted({p for c in todo for p in (c.probe, c.mate, c.donor)}), net,
                                            aligned, folder, names) if todo else ({}, {}, [])
        from ..bench.store import append_row, open_results

        with open_results(folder, MANIFEST) as fd:
            for row in load_errors:
                append_row(fd, row)
            for person in dict.fromkeys(c.person for c in todo):
                for row in _person_rows([c for c in todo if c.person == person], faces, points, net, folder,
                                        names, blend, margin, batch_size):
                    append_row(fd, row)
                if on_person:
                    on_person(person)
        return _finish(folder, settings)


def _start(folder: Path, settings: dict, resume: bool, overwrite: bool) -> set[str]:
    """The cases already made (``resume``), after checking the folder's settings."""
    import json

    from ..bench.store import differing_setting, read_rows
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    manifest, held = folder / MANIFEST, folder / SETTINGS
    if resume and held.is_file():
        try:
            old = json.loads(held.read_text(encoding="utf-8")).get("settings", {})
        except (OSError, ValueError, AttributeError) as exc:
            raise S2WError(f"{held}: not a game's settings ({exc}); use --overwrite") from None
        differing = differing_setting(old, settings)
        if differing:
            raise S2WError(f"--resume: {folder} was built with another {differing}; use --overwrite or another --out")
        return {row["case"] for row in read_rows(manifest, repair=True, required=()) if "case" in row
                and "error" not in row}
    if (manifest.is_file() and manifest.stat().st_size) and not overwrite:
        raise S2WError(f"{folder} already holds a game; use --resume to finish it, --overwrite to replace it, "
                       "or another --out")
    manifest.unlink(missing_ok=True)
    write_text(held, dumps({"settings": settings}, indent=1) + "\n")
    return set()


def _finish(folder: Path, settings: dict) -> dict[str, Any]:
    """Count the manifest per region (the latest row of each case) and write ``game.json``."""
    from ..bench.store import read_rows
    from ..io.atomic import write_text
    from ..io.json_data import dumps

    latest: dict[str, dict] = {}
    errors = []
    for row in read_rows(folder / MANIFEST, required=()):
        if "case" in row and ("error" not in row or row["case"] not in latest):
            latest[row["case"]] = row
        elif "error" in row:
            errors.append(row)
    counts = {region: {"swaps": 0, "probe_kept": 0, "nulls": 0, "errors": 0} for region in settings["regions"]}
    for row in latest.values():
        cell = counts.setdefault(row["region"], {"swaps": 0, "probe_kept": 0, "nulls": 0, "errors": 0})
        if "error" in row:
            cell["errors"] += 1
        elif row["kind"] == "null":
            cell["nulls"] += 1
        else:
            cell["swaps"] += 1
            cell["probe_kept"] += int(row["probe_kept"])
    summary = {"settings": settings, "counts": counts, "photo_errors": errors}
    write_text(folder / SETTINGS, dumps(summary, indent=1) + "\n")
    return summary
