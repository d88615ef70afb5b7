"""Running explainers over a pair list, one pair at a time, streaming results to JSONL.

Each (pair, explainer) becomes one line of ``results.jsonl`` as soon as it is done, so memory
stays flat however many pairs there are. A failure (an image that does not load, an explainer
that raises, exits or returns NaN or empty maps, a metric that cannot be computed) becomes an
error row for that (pair, explainer) and the run goes on. Every row records the run's settings
and its explainer's options; ``resume=True`` continues a run with the same settings, skipping
its finished rows and retrying its error rows. The folder is locked for the run
(:mod:`s2w_toolkit.bench.store`).

Example:
    >>> import tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> from s2w_toolkit.bench.summary import summarise
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> out = tempfile.mkdtemp()
    >>> run_benchmark(read_pairs()[:1], ["input-gradient"], net, out, steps=4)
    {'written': 1, 'failed': 0, 'pairs_loaded': 1, 'pairs': 1}
    >>> summarise(out)["input-gradient"]["pairs"]
    1
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..errors import S2WError
from ..options import build_options, format_value
from ..pipeline import build_explainer, load_pair, run_explainer
from ..registry import get_registry
from . import metrics
from .pairs import PairSpec
from .store import RESULTS, append_row, differing_setting, locked, open_results, read_rows
from .summary import row_settings, run_and_options

#: Files a fresh run replaces; they describe the results that were there before.
OUTPUTS = (RESULTS, "summary.csv", "summary.md", "summary.json", "curves.png", "replacement.png")
FILL = "black"  # how the metrics remove pixels


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A short hash of every parameter and buffer (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def run_settings(backbone: Any, *, steps: int, seed: int, pairs_id: str) -> dict[str, Any]:
    """What makes two runs' numbers comparable: backbone and weights, metric steps and fill, seed,
    and the pair list. (The batch size does not change the numbers, so it is not recorded.)"""
    return {"backbone": backbone.name, "weights": weights_fingerprint(backbone), "steps": steps, "fill": FILL,
            "seed": seed, "pairs": pairs_id}


class _ImageCounter:
    """Counts the images that go through a module's forward (one hook)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.images = 0
        self.handle = module.register_forward_hook(self._count)

    def _count(self, module, args, out) -> None:
        self.images += int(args[0].shape[0])

    def close(self) -> None:
        self.handle.remove()


def _measure(explanation, pair, backbone, steps: int, batch_size: int) -> dict:
    units = F.normalize(torch.cat([backbone(pair.a), backbone(pair.b)]).detach(), dim=1)
    sides = {}
    for side, x, face, other_x, other_face, counter in (
            ("a", pair.a, pair.image_a, pair.b, pair.image_b, units[1:]),
            ("b", pair.b, pair.image_b, pair.a, pair.image_a, units[:1])):
        saliency = explanation.maps[side]
        curves = metrics.deletion_insertion(backbone, x, face, counter, saliency, steps=steps, fill=FILL,
                                            batch_size=batch_size)
        replaced = metrics.pixel_replacement(backbone, x, face, other_x, other_face, counter, saliency,
                                             batch_size=batch_size)
        sides[side] = {"deletion": curves, "replacement": replaced}
    return sides


def _sim2word_record(explanation) -> dict:
    record = {"best_erased": {}, "per_attribute": {}}
    for direction in explanation.metadata.get("directions", []):
        eligible = [r for r in direction["attributes"] if r["eligible"]]
        side = direction["target"]
        record["best_erased"][side] = max((r["s"] for r in eligible), default=None)
        record["per_attribute"][side] = {r["attribute"]: r["s"] for r in eligible}
    return record


def _recorded(options: Any) -> dict[str, Any]:
    """An explainer's full options (defaults included) as a row records them: JSON values,
    without the batch size, which does not change the numbers."""
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) else format_value(v)
            for k, v in sorted(dataclasses.asdict(options).items()) if k != "batch_size"}


def _prepare_folder(folder: Path, settings: dict, options: dict[str, dict], resume: bool, overwrite: bool) -> set:
    """Check the folder against this run; return the (key, explainer) already done."""
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
    return {(r["key"], r["explainer"]) for r in rows if "error" not in r}


def run_benchmark(pairs: list[PairSpec], explainers: list[str], backbone, out_dir: str | Path, *,
                  options: dict[str, dict[str, Any]] | None = None, resume: bool = False, overwrite: bool = False,
                  steps: int = 20, batch_size: int = 64, seed: int = 0, pairs_id: str = "", attributes=None,
                  lock: bool = True,
                  on_pair: Callable[[str, PairSpec], None] | None = None,
                  on_error: Callable[[dict], None] | None = None) -> dict[str, int]:
    """Explain and measure every pair with every explainer (``options``: keyword options per
    explainer name); return counts of rows written, rows failed and pairs loaded. ``lock=False``
    when the caller already holds :func:`~s2w_toolkit.bench.store.locked` on the folder."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    classes = {name: get_registry().explainer(name) for name in explainers}
    options = {name: dict((options or {}).get(name, {})) for name in explainers}
    settings = run_settings(backbone, steps=steps, seed=seed, pairs_id=pairs_id)
    recorded = {name: _recorded(build_options(classes[name], options[name], name=name)) for name in explainers}
    counts = {"written": 0, "failed": 0, "pairs_loaded": 0, "pairs": len(pairs)}
    with locked(folder) if lock else contextlib.nullcontext():
        done = _prepare_folder(folder, settings, recorded, resume, overwrite)
        with open_results(folder) as stream:
            def write(row: dict) -> None:
                try:
                    append_row(stream, row)
                except (TypeError, ValueError) as exc:  # a value JSON cannot hold
                    row = {k: row[k] for k in ("key", "a", "b", "same", "fold", "settings", "explainer", "options")}
                    row.update(stage="write", error=f"result not writable as JSON: {exc}")
                    append_row(stream, row)
                counts["written"] += 1
                if "error" in row:
                    counts["failed"] += 1
                    if on_error:
                        on_error(row)

            for spec in pairs:
                todo = [name for name in explainers if (spec.key, name) not in done]
                if not todo:
                    continue
                base = {"key": spec.key, "a": spec.a, "b": spec.b, "same": spec.same, "fold": spec.fold,
                        "settings": settings}
                try:
                    pair = load_pair(spec.a, spec.b, backbone, face_index=(spec.face_a, spec.face_b))
                except S2WError as exc:
                    for name in todo:
                        if on_pair:
                            on_pair(name, spec)
                        write({**base, "explainer": name, "options": recorded[name], "stage": "load",
                               "error": str(exc)})
                    continue
                counts["pairs_loaded"] += 1
                for name in todo:
                    if on_pair:
                        on_pair(name, spec)
                    write(_one_row(base, name, classes[name], options[name], recorded[name], pair, backbone,
                                   attributes, steps, batch_size))
    return counts


def _one_row(base: dict, name: str, cls: type, options: dict, recorded: dict, pair, backbone, attributes,
             steps: int, batch_size: int) -> dict:
    """The result row of one explainer on one pair, or its error row; never raises (but Ctrl-C)."""
    row = {**base, "explainer": name, "options": recorded}
    stage = "explain"
    counter = _ImageCounter(backbone)
    try:
        start = time.perf_counter()
        explainer = build_explainer(cls, {"batch_size": batch_size, **options})  # -o batch_size wins
        explanation = run_explainer(explainer, pair, backbone, attributes if cls.uses_attributes else None)
        row.update(similarity=explanation.score, threshold=backbone.threshold,
                   seconds=time.perf_counter() - start, forward_passes=counter.images)
        stage = "measure"
        with torch.no_grad():
            row["sides"] = _measure(explanation, pair, backbone, steps, batch_size)
        if name == "sim2word":
            row["sim2word"] = _sim2word_record(explanation)
        return row
    except KeyboardInterrupt:
        raise
    except (Exception, SystemExit) as exc:
        message = str(exc) if isinstance(exc, S2WError) else f"{type(exc).__name__}: {exc}"
        return {**base, "explainer": name, "options": recorded, "stage": stage, "error": message}
    finally:
        counter.close()
