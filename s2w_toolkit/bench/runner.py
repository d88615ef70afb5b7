"""Running explainers over a pair list, one pair at a time, streaming results to JSONL.

Each (pair, explainer) becomes one line of ``results.jsonl`` as soon as it is done, so memory
stays flat however many pairs there are, and an interrupted run resumes (``resume=True``)
without repeating a finished line. :func:`summarise` reads the file back.

Example:
    >>> import tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> out = tempfile.mkdtemp()
    >>> done = run_benchmark(read_pairs()[:1], ["input-gradient"], net, out, steps=4)
    >>> done, sorted(summarise(out)["input-gradient"])[:3]
    (1, ['deletion_auc', 'deletion_curve', 'forward_passes'])
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..errors import S2WError
from ..pipeline import load_pair, run_explainer
from ..registry import get_registry
from . import metrics
from .pairs import PairSpec

RESULTS = "results.jsonl"


def finished(out_dir: str | Path) -> set[tuple[str, str]]:
    """(pair key, explainer) of every line already in ``results.jsonl``."""
    path = Path(out_dir) / RESULTS
    if not path.is_file():
        return set()
    done = set()
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            done.add((row["key"], row["explainer"]))
    return done


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
        curves = metrics.deletion_insertion(backbone, x, face, counter, saliency, steps=steps, batch_size=batch_size)
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


def run_benchmark(pairs: list[PairSpec], explainers: list[str], backbone, out_dir: str | Path, *,
                  options: dict[str, Any] | None = None, resume: bool = False, steps: int = 20,
                  batch_size: int = 64, attributes=None,
                  on_pair: Callable[[str, PairSpec], None] | None = None) -> int:
    """Explain and measure every pair with every explainer; return the lines written."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    done = finished(folder) if resume else set()
    if not resume:
        (folder / RESULTS).write_text("")
    classes = {name: get_registry().explainer(name) for name in explainers}
    written = 0
    with open(folder / RESULTS, "a") as stream:
        for spec in pairs:
            todo = [name for name in explainers if (spec.key, name) not in done]
            if not todo:
                continue
            try:
                pair = load_pair(spec.a, spec.b, backbone)
            except S2WError as exc:
                for name in todo:
                    stream.write(json.dumps({"key": spec.key, "explainer": name, "error": str(exc)}) + "\n")
                stream.flush()
                continue
            for name in todo:
                if on_pair:
                    on_pair(name, spec)
                counter = _ImageCounter(backbone)
                start = time.perf_counter()
                try:
                    cls = classes[name]
                    explanation = run_explainer(cls(**{**(options or {}), "batch_size": batch_size}), pair, backbone,
                                                attributes if cls.uses_attributes else None)
                    seconds = time.perf_counter() - start
                    passes = counter.images
                finally:
                    counter.close()
                row = {"key": spec.key, "explainer": name, "a": spec.a, "b": spec.b, "same": spec.same,
                       "fold": spec.fold, "similarity": explanation.score, "threshold": backbone.threshold,
                       "seconds": seconds,
                       "forward_passes": passes}
                with torch.no_grad():
                    row["sides"] = _measure(explanation, pair, backbone, steps, batch_size)
                if name == "sim2word":
                    row["sim2word"] = _sim2word_record(explanation)
                stream.write(json.dumps(row) + "\n")
                stream.flush()
                written += 1
    return written


def read_results(paths: list[str | Path]) -> dict[str, list[dict]]:
    """Rows of one or more ``results.jsonl`` files by explainer; a (pair, explainer) seen twice
    (shards that overlap, a resumed run) counts once; error lines are left out."""
    rows: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "error" in row or (row["key"], row["explainer"]) in seen:
                continue
            seen.add((row["key"], row["explainer"]))
            rows.setdefault(row["explainer"], []).append(row)
    return rows


def _replacement(group: list[dict]) -> dict:
    """FMR and FNMR at the backbone's threshold after pixel replacement, per strategy and p."""
    out: dict[str, dict] = {}
    threshold = group[0]["threshold"]
    for strategy in ("best", "worst", "random"):
        per_p: dict[str, list] = {}
        for row in group:
            for side in row["sides"].values():
                for p, score in side["replacement"].get(strategy, {}).items():
                    per_p.setdefault(str(p), []).append((score, row["same"]))
        out[strategy] = {p: dict(zip(("fmr", "fnmr"), metrics.fmr_fnmr([s for s, _ in v], [m for _, m in v], threshold)))
                         for p, v in per_p.items()}
    return out


def summarise(out_dir: str | Path, extra: list[str | Path] | None = None) -> dict[str, dict]:
    """Per explainer: mean AUCs, random controls, cost, FMR/FNMR after pixel replacement, and
    (for sim2word) the AUC drop; from ``out_dir/results.jsonl`` plus any ``extra`` files."""
    rows = read_results([Path(out_dir) / RESULTS, *(extra or [])])
    summary = {}
    for name, group in rows.items():
        curves = [side["deletion"] for row in group for side in row["sides"].values()]

        def mean(key: str) -> float:
            return sum(c[key] for c in curves) / len(curves)

        summary[name] = {
            "pairs": len(group),
            "deletion_auc": mean("deletion_auc"), "insertion_auc": mean("insertion_auc"),
            "random_deletion_auc": mean("random_deletion_auc"), "random_insertion_auc": mean("random_insertion_auc"),
            "seconds_per_pair": sum(r["seconds"] for r in group) / len(group),
            "forward_passes": sum(r["forward_passes"] for r in group) / len(group),
            "deletion_curve": _mean_curve([c["deletion_curve"] for c in curves]),
            "insertion_curve": _mean_curve([c["insertion_curve"] for c in curves]),
            "replacement": _replacement(group),
        }
        if name == "sim2word":
            records = [{"same": r["same"], "similarity": r["similarity"], **r["sim2word"]} for r in group]
            summary[name]["auc_drop"] = metrics.auc_drop(records)
    return summary


def _mean_curve(curves: list[list[float]]) -> list[float]:
    length = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(length)]
