"""``s2w audit`` as a run: score every pair, choose the threshold, explain the errors and their
contrast pairs, and write the summary; streamed and resumable like ``s2w benchmark``.

The folder holds ``scores.jsonl`` (one row per pair: its cosine and both faces' predicted
groups, or an error row), ``explanations.jsonl`` (one row per explained pair and explainer, or
an error row), ``pairs/<pair>/<explainer>.png|json`` and ``audit.json``. Rows are appended
whole and flushed (:mod:`s2w_toolkit.bench.store`); the folder is locked for the run;
``resume=True`` keeps the rows written and retries the error rows, and refuses rows whose images
now hold other photos (:mod:`s2w_toolkit.bench.provenance`). An ``fmr`` that cannot be calibrated
(no non-mate scored) still writes ``audit.json`` with the rows, then raises one line.

Example:
    >>> import tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> out = tempfile.mkdtemp()
    >>> summary = run_audit(read_pairs(), net, out, explainers=["centre"], attributes=None)
    >>> summary["counts"]["pairs"], summary["counts"]["explained_pairs"] > 0, summary["threshold"]["fmr"]
    (6, True, None)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..bench.provenance import check_resumed, image_hashes
from ..errors import S2WError, row_message
from .explain import explain_pair, pair_folder

SCORES = "scores.jsonl"
EXPLAINED = "explanations.jsonl"
SUMMARY = "audit.json"
KIND = "s2w-audit"


def _latest(rows: list[dict]) -> dict[tuple, dict]:
    """The last row per (key, explainer): a retried error row is replaced by its retry."""
    out: dict[tuple, dict] = {}
    for row in rows:
        out[(row["key"], row.get("explainer"))] = row
    return out


def _prepare(folder: Path, settings: dict, resume: bool, overwrite: bool) -> tuple[list[dict], list[dict]]:
    from ..bench.store import differing_setting, read_rows

    files = [folder / SCORES, folder / EXPLAINED]
    if not resume:
        held = [f for f in files if f.is_file() and f.stat().st_size]
        if held and not overwrite:
            raise S2WError(f"{folder} already holds an audit; use --resume to continue it, --overwrite to replace "
                           "it, or another --out")
        for f in [*files, folder / SUMMARY]:
            f.unlink(missing_ok=True)
        return [], []
    rows = [read_rows(f, repair=True, required=needs) if f.is_file() else []
            for f, needs in zip(files, (("key",), ("key", "explainer")))]
    for row in rows[0] + rows[1]:
        key = differing_setting({k: row.get("settings", {}).get(k) for k in settings}, settings)
        if key is not None:
            raise S2WError(f"--resume: {folder} was audited with {key}={row.get('settings', {}).get(key)!r}, this run "
                           f"has {key}={settings.get(key)!r}; use the same settings, another --out, or --overwrite")
    return rows[0], rows[1]


def _score_rows(specs: Sequence[Any], net: Any, attributes: Any, settings: dict, *, aligned: bool, batch_size: int,
                cache: Any, advance: Callable | None, warn: Callable[[str], None]) -> list[dict]:
    from ..faces.embedding import embed_faces
    from .groups import face_groups

    groups: dict = {}

    def predict(keys: list, faces: Any) -> None:
        if attributes is None:
            return
        try:
            prediction = attributes.predict(faces, net.template)
        except Exception as exc:  # noqa: BLE001 - a failing attribute model costs the groups, not the audit
            warn(f"attribute model {getattr(attributes, 'name', '?')!r} failed ({row_message(exc)}); these faces have "
                 "no groups")
            return
        for i, key in enumerate(keys):
            groups[key] = face_groups(prediction, i)

    units, failed = embed_faces(specs, net, aligned, batch_size, cache=cache, on_batch=predict, advance=advance)
    rows = []
    for s in specs:
        row = {"key": s.key, "a": s.a, "b": s.b, "same": s.same, "fold": s.fold, "settings": settings}
        error = failed.get((s.a, s.face_a)) or failed.get((s.b, s.face_b))
        if not error:
            try:
                row["images"] = image_hashes(cache, s.a, s.b)  # what the score is computed from
            except S2WError as exc:  # changed or gone since it was embedded
                error = str(exc)
        if error:
            rows.append({**row, "stage": "load", "error": error})
            continue
        similarity = float((units[(s.a, s.face_a)] * units[(s.b, s.face_b)]).sum())
        rows.append({**row, "similarity": similarity,
                     "groups": {"a": groups.get((s.a, s.face_a), {}), "b": groups.get((s.b, s.face_b), {})}})
    return rows


def run_audit(pairs: Sequence[Any], net: Any, out_dir: str | Path, *, explainers: Sequence[str] = ("sim2word",),
              options: dict[str, dict] | None = None, attributes: Any = None, fmr: float | None = None,
              errors: int = 20, near: int = 3, contrast: int = 10, seed: int = 0, batch_size: int = 64,
              aligned: bool = False, cache: str | Path | None = None, pairs_id: str = "", resume: bool = False,
              overwrite: bool = False, lock: bool = True, on_stage: Callable[[str, int], Callable] | None = None,
              on_error: Callable[[dict], None] | None = None,
              warn: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Audit ``net`` on ``pairs``; return the summary written to ``audit.json``.

    ``fmr``: calibrate the threshold on these pairs (else the backbone's, which ``--threshold``
    may have set); ``errors``, ``near``, ``contrast``, ``seed``: which pairs are explained
    (:func:`~s2w_toolkit.audit.outcomes.select_pairs`); ``on_stage(name, total)`` returns the
    callback to advance a progress bar; ``on_error(row)`` hears of each error row."""
    from ..weights.fingerprint import weights_fingerprint
    from ..bench.store import append_row, locked, open_results
    from ..faces.cache import FaceCache
    from ..pipeline import load_pair
    from ..registry import get_registry
    from .outcomes import choose_threshold, outcome, select_pairs
    from .summary import summarise_audit

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    classes = {name: get_registry().explainer(name) for name in explainers}
    options = {name: dict((options or {}).get(name, {})) for name in explainers}
    settings = {"backbone": net.name, "weights": weights_fingerprint(net), "pairs": pairs_id, "aligned": aligned,
                "attributes": getattr(attributes, "name", None)}
    stage = on_stage or (lambda name, total: None)
    faces = FaceCache(cache)
    with locked(folder) if lock else contextlib.nullcontext():
        old_scores, old_explained = _prepare(folder, settings, resume, overwrite)
        listed = {s.key for s in pairs}
        check_resumed([r for r in old_scores + old_explained if r["key"] in listed], pairs, str(folder), faces.digest)
        done = {k: r for k, r in _latest(old_scores).items() if "error" not in r}
        todo = [s for s in pairs if (s.key, None) not in done]
        with open_results(folder, SCORES) as stream:
            advance = stage("scoring", len({side for s in todo for side in ((s.a, s.face_a), (s.b, s.face_b))}))
            for row in _score_rows(todo, net, attributes, settings, aligned=aligned, batch_size=batch_size,
                                   cache=faces, advance=advance, warn=warn):
                append_row(stream, row)
                done[(row["key"], None)] = row
                if "error" in row and on_error:
                    on_error(row)
        score_rows = [r for (k, _), r in done.items() if k in listed]
        selection = {"errors": errors, "near": near, "contrast": contrast, "seed": seed}
        try:
            threshold = choose_threshold(score_rows, net.threshold, net.threshold_source, fmr)
        except S2WError as exc:  # nothing to explain at no threshold; the rows still reach audit.json
            summarise_audit(folder, score_rows, [], {"threshold": float(net.threshold), "fmr": fmr, "error": str(exc),
                                                     "source": f"not calibrated: {exc}"},
                            settings=settings, selection=selection, explainers=list(explainers), listed=len(pairs))
            raise S2WError(f"{exc}; the scores are in {folder / SUMMARY}") from None
        net.threshold, net.threshold_source = threshold["threshold"], threshold["source"]  # the explainers' verdicts
        chosen = select_pairs(score_rows, threshold["threshold"], errors=errors, near=near, contrast=contrast,
                              seed=seed)
        wanted = {name: {k: str(v) for k, v in options[name].items()} for name in explainers}
        explained = {k: r for k, r in _latest(old_explained).items()  # kept: made for this threshold and options
                     if "error" not in r and r["explainer"] in wanted and r["key"] in chosen
                     and r.get("settings", {}).get("threshold") == threshold["threshold"]
                     and r.get("options") == wanted[r["explainer"]]}
        specs = {s.key: s for s in pairs}
        by_key = {r["key"]: r for r in score_rows}
        work = [(key, name) for key in chosen for name in explainers if (key, name) not in explained]
        advance = stage("explaining", len(work))
        row_settings = {**settings, "threshold": threshold["threshold"]}
        with open_results(folder, EXPLAINED) as stream:
            loaded: dict[str, Any] = {}
            for key, name in work:
                spec, scored_row = specs[key], by_key[key]
                row = {"key": key, "a": spec.a, "b": spec.b, "same": spec.same, "explainer": name,
                       "reasons": chosen[key], "outcome": outcome(bool(spec.same), scored_row["similarity"],
                                                                  threshold["threshold"]),
                       "settings": row_settings, "options": wanted[name]}
                try:
                    if key not in loaded:
                        loaded = {key: load_pair(spec.a, spec.b, net, face_index=(spec.face_a, spec.face_b),
                                                 aligned=aligned or spec.aligned, cache=faces)}
                    row["images"] = image_hashes(faces, spec.a, spec.b)
                    fields = explain_pair(loaded[key], net, name, classes[name], options[name], attributes,
                                          folder / "pairs" / pair_folder(key))
                    fields["figure"] = str(Path(fields["figure"]).relative_to(folder))
                    fields["json"] = str(Path(fields["json"]).relative_to(folder))
                    row.update(fields)
                except KeyboardInterrupt:
                    raise
                except (Exception, SystemExit) as exc:  # one explainer failing never stops the audit
                    row.update(stage="explain", error=row_message(exc))
                    if on_error:
                        on_error(row)
                append_row(stream, row)
                explained[(key, name)] = row
                if advance:
                    advance()
        summary = summarise_audit(folder, score_rows, list(explained.values()), threshold, settings=settings,
                                  selection=selection,
                                  explainers=list(explainers), listed=len(pairs))
    return summary
