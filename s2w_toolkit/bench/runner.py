"""Running explainers and their controls over a pair list, one pair at a time, streaming results.

Each (pair, explainer) becomes one line of ``results.jsonl`` as soon as it is done, so memory
stays flat however many pairs there are. The content-free controls (:data:`~s2w_toolkit.explainers.control_names.CONTROLS`) run beside the
explainers; every :class:`~s2w_toolkit.bench.metric.Metric` that applies measures each result
(its value under ``row["metrics"][name]``), and work that does not depend on the explainer is
shared by every explainer of a pair. Each explainer's first run is an untimed warm-up. A failure
(an image that does not load, an explainer that raises, exits or returns NaN or empty maps, a
metric that cannot be computed) becomes an error row for that (pair, explainer), and a metric
that raises is recorded under ``metric_errors`` in a row that keeps every other metric's
numbers; the run goes on either way. Every row records the run's settings, its explainer's options and its images'
content hashes; ``resume=True`` continues a run with the same settings over the same photos
(:mod:`~s2w_toolkit.bench.provenance`), skipping its finished rows and retrying its error rows.
The folder is locked for the run (:mod:`s2w_toolkit.bench.store`).

Example:
    >>> import tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> from s2w_toolkit.bench.summary import summarise
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> out = tempfile.mkdtemp()
    >>> run_benchmark(read_pairs()[:1], ["input-gradient"], net, out, steps=4)
    {'written': 3, 'failed': 0, 'pairs_loaded': 1, 'pairs': 1}
    >>> summarise(out)["explainers"]["centre"]["role"]
    'control'
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import warnings
from collections.abc import Mapping

import torch

from ..errors import PluginError, S2WError, row_message
from ..faces.cache import FaceCache
from ..options import build_options, format_value
from ..pipeline import build_explainer, load_pair
from ..registry import PluginWarning, get_registry
from ..targets import pair_units
from . import metrics as metrics_module
from ..capture import counting_images
from .batching import MAX_PENDING_IMAGES, Pending, resolve, score_pending
from .metric import Job, Metric
from .pairs import PairSpec
from .provenance import check_resumed, image_hashes
from .store import RESULTS, append_row, differing_setting, locked, open_results, read_rows
from .summary import row_settings, run_and_options
from ..weights.fingerprint import weights_fingerprint
from ..explainers.control_names import with_controls

#: Files a fresh run replaces; they describe the results that were there before.
OUTPUTS = (RESULTS, "summary.csv", "summary.md", "summary.json", "curves.png", "replacement.png", "summary.png",
           "roc.png")
FILL = "road"  # how the metrics remove pixels by default
#: How pairs are spread: this machine's processes (``workers``), or a Ray cluster.
ENGINES = ("local", "ray")
#: Pairs whose metric images share batches by default (``--batch-pairs``).
GROUP = 4


def select_metrics(requested: Mapping[str, Mapping[str, Any]] | None = None) -> list[Metric]:
    """Every registered default metric, plus the optional ones named in ``requested`` (name ->
    keyword settings, which may also configure a default one). A metric class that fails to
    load is warned about and skipped; an unknown name raises a one-line :class:`PluginError`."""
    registry, wanted = get_registry(), dict(requested or {})
    chosen = []
    for name in registry.names("metric"):
        try:
            cls = registry.metric(name)
        except PluginError as exc:
            warnings.warn(f"{exc}; the benchmark runs without it", PluginWarning, stacklevel=2)
            continue
        if cls.default or name in wanted:
            chosen.append(cls(**dict(wanted.pop(name, {}))))
    if wanted:
        raise PluginError(f"unknown metric {sorted(wanted)[0]!r}; known: {', '.join(registry.names('metric'))}")
    return chosen


def run_settings(backbone: Any, *, steps: int, seed: int, pairs_id: str, fill: str = FILL,
                 metrics: list[Metric] = (), aligned: bool = False) -> dict[str, Any]:
    """What makes two runs' numbers comparable: backbone, weights and threshold, metric steps and
    fill, seed, the pair list, and the metrics with their settings. (The batch size does not
    change the numbers, so it is not recorded.)"""
    settings = {"backbone": backbone.name, "weights": weights_fingerprint(backbone), "threshold": backbone.threshold,
                "steps": steps, "fill": fill, "seed": seed, "pairs": pairs_id, "aligned": aligned,
                "metrics": sorted(m.name for m in metrics)}
    for metric in metrics:
        settings.update({f"{metric.name} {k}": v for k, v in metric.settings().items()})
    return settings


def _recorded(options: Any) -> dict[str, Any]:
    """An explainer's full options (defaults included) as a row records them: JSON values,
    without the batch size, which does not change the numbers."""
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) else format_value(v)
            for k, v in sorted(dataclasses.asdict(options).items()) if k != "batch_size"}


def _prepare_folder(folder: Path, settings: dict, options: dict[str, dict], resume: bool, overwrite: bool,
                    pairs: list[PairSpec] = (), digest: Callable[[str], str] | None = None) -> set:
    """Check the folder against this run (with ``digest``, also that the images of its finished
    rows are the ones they were computed from); return the (key, explainer) already done."""
    results = folder / RESULTS
    if not resume:
        if results.is_file() and results.stat().st_size and not overwrite:
            lines = results.read_bytes().count(b"\n")
            raise S2WError(f"{folder} already holds {lines} benchmark results; use --resume to continue that "
                           "run, --overwrite to replace it, or another --out")
        for name in OUTPUTS:  # not parsed: --overwrite also replaces a damaged file
            (folder / name).unlink(missing_ok=True)
        return set()
    rows = read_rows(results, repair=True)
    for row in rows:
        if "settings" not in row:
            raise S2WError(f"--resume: {folder / RESULTS} holds rows without settings (written by an older s2w); "
                           "use --overwrite or another --out")
        have = row_settings(row)  # an explainer this run does not run is compared on the run's settings only
        want = run_and_options(settings, row["explainer"], options.get(row["explainer"], row.get("options")))
        key = differing_setting(have, want)
        if key is not None:
            raise S2WError(f"--resume: {folder / RESULTS} was made with {key}={have.get(key)!r}, this run has "
                           f"{key}={want.get(key)!r}; use the same settings, another --out, or --overwrite")
    if digest is not None:
        check_resumed(rows, pairs, str(folder / RESULTS), digest)
    return {(r["key"], r["explainer"]) for r in rows if "error" not in r and "metric_errors" not in r}


def run_benchmark(pairs: list[PairSpec], explainers: list[str], backbone, out_dir: str | Path, *,
                  options: dict[str, dict[str, Any]] | None = None, resume: bool = False, overwrite: bool = False,
                  steps: int = 20, batch_size: int = 64, seed: int = 0, pairs_id: str = "", attributes=None,
                  fill: str = FILL, metrics: Mapping[str, Mapping[str, Any]] | None = None, controls: bool = True,
                  aligned: bool = False, lock: bool = True, cache: str | Path | None = None,
                  workers: int = 1, engine: str = "local", address: str | None = None, batch_pairs: int = GROUP,
                  on_pair: Callable[[str, PairSpec], None] | None = None,
                  on_error: Callable[[dict], None] | None = None,
                  on_event: Callable[[str], None] | None = None) -> dict[str, int]:
    """Explain and measure every pair with every explainer and the controls (``options``:
    keyword options per explainer name; ``metrics``: optional metrics to add, with settings,
    see :func:`select_metrics`; ``aligned``: the images are already aligned faces, only resized);
    return counts of rows written, rows failed and pairs loaded.

    ``batch_pairs``: pairs whose metric images go through the backbone together, in chunks of
    ``batch_size`` (1: pair by pair); every engine forms the same groups, so the numbers do not
    depend on it. ``cache``: a folder where aligned faces are kept between runs (they are always shared within
    a run, :class:`~s2w_toolkit.faces.cache.FaceCache`). ``workers``: processes on this machine
    (:mod:`s2w_toolkit.bench.engines`); ``engine="ray"`` spreads the pairs over Ray actors
    (``address``: an existing cluster); ``on_event`` hears of workers starting and dying. Whatever the engine, this process alone writes
    ``results.jsonl``, so locking, resume and the summary are the same.
    ``lock=False`` when the caller already holds :func:`~s2w_toolkit.bench.store.locked` on the
    folder."""
    if fill not in metrics_module.REMOVALS:
        raise S2WError(f"unknown fill {fill!r}; use one of {', '.join(metrics_module.REMOVALS)}")
    if batch_pairs < 1:
        raise S2WError(f"--batch-pairs must be at least 1, got {batch_pairs}")
    if engine not in ENGINES:
        raise S2WError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    explainers = with_controls(explainers) if controls else list(explainers)
    classes = {name: get_registry().explainer(name) for name in explainers}
    options = {name: dict((options or {}).get(name, {})) for name in explainers}
    measures = select_metrics(metrics)
    settings = run_settings(backbone, steps=steps, seed=seed, pairs_id=pairs_id, fill=fill, metrics=measures,
                            aligned=aligned)
    recorded = {name: _recorded(build_options(classes[name], options[name], name=name)) for name in explainers}
    counts = {"written": 0, "failed": 0, "pairs_loaded": 0, "pairs": len(pairs)}
    faces = FaceCache(cache)  # here, so that a cache folder that cannot be written is warned about once
    with locked(folder) if lock else contextlib.nullcontext():
        done = _prepare_folder(folder, settings, recorded, resume, overwrite, pairs, faces.digest)
        for metric in measures:
            metric.prepare(pairs, backbone)
        work = PairWork(explainers=explainers, classes=classes, options=options, recorded=recorded,
                        measures=measures, settings=settings,
                        run={"steps": steps, "fill": fill, "seed": seed, "batch_size": batch_size},
                        aligned=aligned, batch_size=batch_size, backbone=backbone, attributes=attributes,
                        cache=str(cache) if cache is not None else None, cache_writable=faces.writable)
        items = [(spec, todo) for spec in pairs if (todo := [n for n in explainers if (spec.key, n) not in done])]
        groups = [items[i:i + batch_pairs] for i in range(0, len(items), batch_pairs)]
        loaded: set[str] = set()
        with open_results(folder) as stream:
            def write(row: dict, spec: PairSpec) -> None:
                if on_pair:
                    on_pair(row["explainer"], spec)
                try:
                    append_row(stream, row)
                except (TypeError, ValueError) as exc:  # a value JSON cannot hold
                    row = {k: row[k] for k in ("key", "a", "b", "same", "fold", "settings", "explainer", "options",
                                               "role", "evidence")}
                    row.update(stage="write", error=f"result not writable as JSON: {exc}")
                    append_row(stream, row)
                counts["written"] += 1
                if row.get("stage") != "load":
                    loaded.add(row["key"])
                failures = [row] if "error" in row else [
                    {**row, "stage": f"measure {name}", "error": message}
                    for name, message in row.get("metric_errors", {}).items()]
                counts["failed"] += bool(failures)
                for failure in failures if on_error else ():
                    on_error(failure)

            if engine == "local" and workers <= 1:
                runner = PairRunner(work)
                for group in groups:
                    specs = {spec.key: spec for spec, _ in group}
                    for row in runner.group_rows(group):
                        write(row, specs[row["key"]])
            else:
                from .engines import run_parallel

                run_parallel(work, groups, write, workers=workers, engine=engine, address=address, on_event=on_event)
        counts["pairs_loaded"] = len(loaded)
    return counts


@dataclasses.dataclass
class PairWork:
    """Everything a process needs to turn pairs into result rows (picklable: engines send it to
    worker processes and Ray actors).

    Example:
        >>> import pickle
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> work = PairWork(["centre"], {"centre": get_registry().explainer("centre")}, {"centre": {}}, {"centre": {}},
        ...                 [], {}, {"steps": 2, "fill": "black", "seed": 0, "batch_size": 8}, False, 8, tiny_backbone())
        >>> len(pickle.dumps(work)) > 0, work.classes["centre"].__name__, work.cache  # it pickles, for the workers
        (True, 'CentreBlobExplainer', None)
    """

    explainers: list[str]
    classes: dict[str, type]
    options: dict[str, dict]
    recorded: dict[str, dict]
    measures: list[Metric]
    settings: dict[str, Any]
    run: dict[str, Any]
    aligned: bool
    batch_size: int
    backbone: Any
    attributes: Any = None
    cache: str | None = None
    cache_writable: bool | None = None  # None: find out (and warn) in the process


class PairRunner:
    """Turns one pair at a time into its result rows, sharing the work that does not depend on
    the explainer, and each aligned face, between them (one per process).

    Example:
        >>> from s2w_toolkit import load_backbone
        >>> from s2w_toolkit.bench.pairs import read_pairs
        >>> net = load_backbone("dlib-resnet", device="cpu")
        >>> work = PairWork(["centre"], {"centre": get_registry().explainer("centre")}, {"centre": {}},
        ...                 {"centre": {}}, [], {}, {"steps": 2, "fill": "black", "seed": 0, "batch_size": 8},
        ...                 False, 8, net)
        >>> spec = read_pairs()[0]
        >>> [row["explainer"] for row in PairRunner(work).rows(spec, ["centre"])]
        ['centre']
    """

    def __init__(self, work: PairWork) -> None:
        from ..attributes.cache import CachedAttributes

        self.work = work
        self.faces = FaceCache(work.cache, writable=work.cache_writable)
        self.attributes = CachedAttributes(work.attributes) if work.attributes is not None else None
        self.warmed: set[str] = set()

    def rows(self, spec: PairSpec, todo: list[str]) -> list[dict]:
        """One row (a result or an error) per explainer in ``todo`` for ``spec``."""
        return self.group_rows([(spec, todo)])

    def group_rows(self, items: list[tuple[PairSpec, list[str]]]) -> list[dict]:
        """The rows of several pairs (``(spec, explainer names)``), in order, the metric images
        of all of them scored in shared batches (:mod:`s2w_toolkit.bench.batching`)."""
        made, pending, unscored = [], [], []
        for spec, todo in items:
            for row in self._pair_rows(spec, todo):
                made.append(row)
                for name, value in row.get("metrics", {}).items():
                    if isinstance(value, Pending):
                        pending.append((row, name))
                        unscored.append(value)
                if sum(p.images for p in unscored) >= MAX_PENDING_IMAGES:  # bounds the sources held
                    score_pending(unscored, self.work.batch_size)
                    unscored = []
        values = resolve([row["metrics"][name] for row, name in pending], self.work.batch_size)
        for (row, name), value in zip(pending, values):
            if isinstance(value, BaseException):
                del row["metrics"][name]
                row.setdefault("metric_errors", {})[name] = row_message(value)
            else:
                row["metrics"][name] = value
        return made

    def _pair_rows(self, spec: PairSpec, todo: list[str]):
        w = self.work
        base = {"key": spec.key, "a": spec.a, "b": spec.b, "same": spec.same, "fold": spec.fold,
                "settings": w.settings}
        try:
            pair = load_pair(spec.a, spec.b, w.backbone, face_index=(spec.face_a, spec.face_b),
                             aligned=w.aligned or spec.aligned, cache=self.faces)
            base["images"] = image_hashes(self.faces, spec.a, spec.b)  # what the rows are computed from
        except S2WError as exc:
            for name in todo:
                yield {**base, **_identity(name, w.classes[name], w.recorded[name]), "stage": "load",
                       "error": str(exc)}
            return
        shared = {"units": pair_units(w.backbone, pair)}  # explainer-independent work of this pair
        for name in todo:
            task = _Task(spec, name, w.classes[name], w.options[name], w.recorded[name], pair, w.backbone,
                         self.attributes, w.batch_size)
            if name not in self.warmed:  # timings exclude a first, warm-up run
                self.warmed.add(name)
                task.warm_up()
            yield task.row(base, w.measures, w.run, shared)


def _identity(name: str, cls: type, recorded: dict) -> dict:
    """What every row of an explainer says about it: name, options, role and what its maps claim."""
    return {"explainer": name, "options": recorded, "role": "control" if cls.control else "explainer",
            "evidence": cls.evidence}


@dataclasses.dataclass
class _Task:
    """One explainer on one loaded pair."""

    spec: PairSpec
    name: str
    cls: type
    options: dict
    recorded: dict
    pair: Any
    backbone: Any
    attributes: Any
    batch_size: int

    def explain(self, backbone: Any):
        explainer = build_explainer(self.cls, {"batch_size": self.batch_size, **self.options})  # -o batch_size wins
        return explainer(self.pair, backbone, self.attributes if self.cls.uses_attributes else None)

    def warm_up(self) -> None:
        """Run once untimed; a failure shows (as an error row) in the timed run that follows."""
        try:
            self.explain(self.backbone)
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit):
            pass

    def row(self, base: dict, measures: list[Metric], run: dict, shared: dict) -> dict:
        """The result row, or its error row; never raises (but Ctrl-C)."""
        row = {**base, **_identity(self.name, self.cls, self.recorded)}
        stage = "explain"
        try:
            with counting_images(self.backbone) as counter:  # the explanation's images, not the metrics'
                start = time.perf_counter()
                explanation = self.explain(self.backbone)
                seconds = time.perf_counter() - start
            row.update(similarity=explanation.score, threshold=self.backbone.threshold, seconds=seconds,
                       forward_passes=counter.images)
            job = Job(spec=self.spec, pair=self.pair, explanation=explanation, backbone=self.backbone,
                      explainer=self.cls, units=shared["units"], run=run, explain=self.explain, cache=shared,
                      timing={"seconds": row["seconds"], "forward_passes": row["forward_passes"]})
            row["metrics"], failures = {}, {}
            for metric in measures:
                try:
                    if not metric.applies_to(self.cls):
                        continue
                    with torch.no_grad():
                        value = metric.measure(job)
                except KeyboardInterrupt:
                    raise
                except (Exception, SystemExit) as exc:  # one metric failing leaves the others' numbers
                    failures[metric.name] = row_message(exc)
                    continue
                if value is not None:
                    row["metrics"][metric.name] = value
            if failures:
                row["metric_errors"] = failures
            return row
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit) as exc:
            return {**base, **_identity(self.name, self.cls, self.recorded), "stage": stage, "error": row_message(exc)}
