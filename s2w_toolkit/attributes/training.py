"""Fitting :class:`~s2w_toolkit.attributes.linear_heads.LinearHeads`: the work behind
``s2w attributes train``.

1. Faces are read and aligned as the backbone aligns them, and their ``cam_layer`` features
   averaged over space (mirrored copies of the training faces too, unless ``flip=False``).
2. The faces are split into a training part and a held-out part, keeping each folder (for a
   folder-per-person layout: each person) on one side, or by CelebA's official partition.
3. Each attribute gets a multinomial logistic regression on the standardised features, with an
   L2 penalty chosen by cross-validation on the training part (folds also keep folders
   together). The standardisation is folded into the head, so it is linear on the raw pooled
   features and its Grad-CAM keeps the closed form.
4. Accuracy is measured on the held-out faces, beside the score of always answering the
   training part's most common class.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(60, 5)); y = (x[:, 0] > 0).astype(int)
    >>> fit = fit_head(x, y, classes=2, groups=np.arange(60), seed=0)
    >>> tuple(fit.weight.shape), float((predict_head(fit, x) == y).mean()) > 0.9
    ((2, 5), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..backbones.base import Backbone
from .labels import LabelTable, group_of, load_labelled_face
from .linear_heads import HeadSpec, LinearHeads, spatial_features

#: The L2 penalties tried by cross-validation (on features standardised to unit variance).
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class HeadFit:
    """One fitted head on raw pooled features: ``scores = x @ weight.T + bias``.

    Example:
        >>> fit = HeadFit(torch.eye(2), torch.zeros(2), penalty=0.1, cv_accuracy=1.0)
        >>> predict_head(fit, np.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
        [1, 0]
    """

    weight: torch.Tensor
    bias: torch.Tensor
    penalty: float
    cv_accuracy: float


@dataclass
class HeadReport:
    """How one head did: its faces, the held-out accuracy and what the majority class scores.

    Example:
        >>> r = HeadReport("Hat", "binary", ("yes", "no"), 10, 4, 0.8, 0.75, 0.5, 0.01)
        >>> r.as_dict()["accuracy"], HeadReport("Hat", "binary", (), 0, 0, *[math.nan] * 4).as_dict()["accuracy"]
        (0.75, None)
    """

    name: str
    kind: str
    classes: tuple[str, ...]
    train: int
    held_out: int
    cv_accuracy: float
    accuracy: float
    majority: float
    penalty: float
    skipped: str = ""

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


@dataclass
class Features:
    """Pooled features of the faces that could be read, and what happened to the rest.

    Example:
        >>> f = Features(np.zeros((2, 4)), None, np.array([0, 2]), torch.zeros(4, 1, 1), ["b.jpg: no face found"])
        >>> f.pooled.shape, f.rows.tolist(), len(f.failures)
        ((2, 4), [0, 2], 1)
    """

    pooled: np.ndarray  # (N, C)
    flipped: np.ndarray | None  # (N, C) or None
    rows: np.ndarray  # index into the label table of each kept face
    reference: torch.Tensor  # (C, h, w): the mean spatial feature map of the faces read (and their mirrors)
    failures: list[str] = field(default_factory=list)


def _softmax_fit(x: torch.Tensor, y: torch.Tensor, classes: int, penalty: float) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=200, tolerance_grad=1e-7,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y) + 0.5 * penalty * (weight ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weight.detach(), bias.detach()


def _folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    return [np.isin(groups, unique[order[i::k]]) for i in range(min(k, len(unique)))]


def fit_head(x: np.ndarray, y: np.ndarray, classes: int, groups: np.ndarray, seed: int = 0,
             extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, folds: int = 5) -> HeadFit:
    """A softmax head for labels ``y`` (0..classes-1) of features ``x``; the penalty is chosen by
    group-wise cross-validation. ``extra`` = (features, labels, groups) of mirrored copies,
    used for fitting, never for scoring."""
    xs, ys, gs = x, y, groups
    if extra is not None:
        xs, ys, gs = np.concatenate([x, extra[0]]), np.concatenate([y, extra[1]]), np.concatenate([groups, extra[2]])
    mean, std = xs.mean(axis=0), xs.std(axis=0) + 1e-6

    def tensors(a, b):
        return torch.as_tensor((a - mean) / std, dtype=torch.float64), torch.as_tensor(b, dtype=torch.long)

    scores = {}
    splits = _folds(groups, folds, seed)
    for penalty in PENALTIES:
        right = total = 0
        for held in splits:
            if held.all() or not held.any():
                continue
            train = ~np.isin(gs, np.unique(groups[held]))
            w, b = _softmax_fit(*tensors(xs[train], ys[train]), classes, penalty)
            xt, yt = tensors(x[held], y[held])
            right += int(((xt @ w.T + b).argmax(dim=1) == yt).sum())
            total += int(held.sum())
        scores[penalty] = right / total if total else math.nan
    valid = {p: s for p, s in scores.items() if not math.isnan(s)}
    # ties go to the stronger penalty: the simpler head
    penalty = max(valid, key=lambda p: (valid[p], p)) if valid else 1e-2
    w, b = _softmax_fit(*tensors(xs, ys), classes, penalty)
    std_t, mean_t = torch.as_tensor(std, dtype=torch.float64), torch.as_tensor(mean, dtype=torch.float64)
    weight = w / std_t
    return HeadFit(weight.float(), (b - weight @ mean_t).float(), penalty, scores.get(penalty, math.nan))


def predict_head(fit: HeadFit, x: np.ndarray) -> np.ndarray:
    """The predicted class of each row of raw pooled features ``x``."""
    return (torch.as_tensor(x, dtype=torch.float32) @ fit.weight.T + fit.bias).argmax(dim=1).numpy()


def held_out_split(table: LabelTable, rows: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask over ``rows``: True for held-out faces. CelebA's test partition when the
    table has one; otherwise whole folders, about ``fraction`` of the faces, chosen at random
    (single faces when everything is in one folder)."""
    if fraction <= 0:
        return np.zeros(len(rows), bool)
    if table.partition is not None:
        return table.partition[rows] == 2
    groups = np.array([group_of(table.faces[r]) for r in rows])
    if len(np.unique(groups)) < 3:
        groups = np.arange(len(rows)).astype(str)
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    held, count = [], 0
    for i in order:
        if count >= fraction * len(rows):
            break
        held.append(unique[i])
        count += int((groups == unique[i]).sum())
    return np.isin(groups, held)


def extract_features(table: LabelTable, images: str | Path, backbone: Backbone, aligned: bool = False,
                     flip: bool = True, batch_size: int = 32,
                     progress: Callable[[int], None] | None = None) -> Features:
    """Pooled ``cam_layer`` features of every labelled face that can be read; faces that cannot
    (unreadable image, no face) are listed in ``failures`` and left out."""
    from ..errors import S2WError
    from ..faces.detect import FaceDetector

    detector = None if aligned else FaceDetector(landmarks=backbone.template.landmarks)
    pooled, mirrored, kept, failures, batch, batch_rows = [], [], [], [], [], []
    total = {"sum": 0.0, "count": 0}

    def pool(faces: np.ndarray) -> np.ndarray:
        spatial = spatial_features(backbone, backbone.preprocess(faces)).float()
        total["sum"] = total["sum"] + spatial.sum(dim=0).cpu()
        total["count"] += len(faces)
        return spatial.mean(dim=(2, 3)).cpu().numpy()

    def flush():
        if not batch:
            return
        faces = np.stack(batch)
        with torch.no_grad():
            pooled.append(pool(faces))
            if flip:
                mirrored.append(pool(np.ascontiguousarray(faces[:, :, ::-1])))
        kept.extend(batch_rows)
        batch.clear()
        batch_rows.clear()

    for row, face in enumerate(table.faces):
        try:
            batch.append(load_labelled_face(face, images, backbone, aligned, detector))
            batch_rows.append(row)
        except S2WError as exc:
            failures.append(str(exc))
        if len(batch) >= batch_size:
            flush()
        if progress:
            progress(1)
    flush()
    if not kept:
        from ..errors import LabelsError

        raise LabelsError(f"none of the {len(table.faces)} labelled faces could be read"
                          + (f" (first: {failures[0]})" if failures else ""))
    return Features(np.concatenate(pooled), np.concatenate(mirrored) if flip else None, np.array(kept),
                    total["sum"] / total["count"], failures)


def train_heads(table: LabelTable, features: Features, backbone: Backbone, holdout: float = 0.2, seed: int = 0,
                min_per_class: int = 2) -> tuple[LinearHeads, list[HeadReport]]:
    """Fit one head per attribute that has at least two classes with ``min_per_class`` training
    faces each; the others are reported as skipped. Returns the model and one report per column."""
    rows = features.rows
    held = held_out_split(table, rows, holdout, seed)
    groups = np.array([group_of(table.faces[r]) for r in rows])
    if len(np.unique(groups[~held])) < 3:
        groups = np.arange(len(rows)).astype(str)
    specs, weights, biases, reports = [], [], [], []
    for j, column in enumerate(table.columns):
        labels = table.values[rows, j]
        train, test = (labels >= 0) & ~held, (labels >= 0) & held
        counts = np.bincount(labels[train], minlength=len(column.classes)) if train.any() else np.zeros(1, int)
        used = np.flatnonzero(counts >= min_per_class)
        if len(used) < 2:
            reason = ", ".join(f"{c} {n}" for c, n in zip(column.classes, counts))
            reports.append(HeadReport(column.name, column.kind, column.classes, int(train.sum()), int(test.sum()),
                                      math.nan, math.nan, math.nan, math.nan, skipped=reason))
            continue
        if column.kind == "binary" and len(used) == 2:
            classes = column.classes
        else:
            classes = tuple(column.classes[i] for i in used)
        remap = {int(old): new for new, old in enumerate(used)}
        train &= np.isin(labels, used)
        y = np.array([remap.get(int(v), -1) for v in labels])
        extra = None
        if features.flipped is not None:
            extra = (features.flipped[train], y[train], groups[train])
        fit = fit_head(features.pooled[train], y[train], len(used), groups[train], seed, extra)
        majority = int(np.bincount(y[train]).argmax())
        truth = y[test]
        # held-out faces of a class too rare to train (label -1 here) count as wrong
        guess = predict_head(fit, features.pooled[test]) if test.any() else np.zeros(0, int)
        accuracy = float(np.mean(guess == truth)) if test.any() else math.nan
        base = float(np.mean(truth == majority)) if test.any() else math.nan
        spec_column = type(column)(column.key, column.name, column.kind, classes)
        specs.append(HeadSpec(column.name, column.kind, spec_column.words()))
        weights.append(fit.weight)
        biases.append(fit.bias)
        reports.append(HeadReport(column.name, column.kind, classes, int(train.sum()), int(test.sum()),
                                  fit.cv_accuracy, accuracy, base, fit.penalty))
    if not specs:
        from ..errors import LabelsError

        raise LabelsError("no attribute has two classes with enough training faces: "
                          + "; ".join(f"{r.name}: {r.skipped}" for r in reports))
    meta = {"trained_on": {"faces": int(len(rows)), "held_out": int(held.sum()), "seed": seed, "holdout": holdout,
                           "flip": features.flipped is not None},
            "accuracy": {r.name: r.as_dict() for r in reports}}
    model = LinearHeads(backbone, specs, torch.cat(weights), torch.cat(biases), features.reference, meta)
    return model, reports
