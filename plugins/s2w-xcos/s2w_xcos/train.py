"""Training the xCos attention head without identity labels.

As in xCos, the head is trained so that the attention-weighted patch cosine reproduces the
backbone's own cosine of the pair: for sampled pairs ``(i, j)`` of faces from any folder, the
loss is ``L1 = mean |sum_kl A(F_i, F_j)_kl cos_kl(F_i, F_j) - cos(f_i, f_j)|``. The backbone is
frozen: every face's grid and embedding are computed once, then only the small head trains
(``epochs * ceil(pairs / batch_size)`` Adam steps: 40 * 4 = 160 by default).

Example:
    >>> import shutil, tempfile
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.data import demo_image
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("obama", "obama2", "biden"):
    ...     _ = shutil.copy(demo_image(name), folder)
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> result = train_head(folder, net, epochs=3, pairs=8)
    >>> result.faces, result.steps, result.loss_after < result.loss_before
    (3, 3, True)
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from s2w_toolkit.errors import S2WError
from s2w_toolkit.io.suffixes import is_image_name
from s2w_toolkit.pipeline import load_face

from .grids import face_grids, patch_cosines, xcos_score
from .head import AttentionHead



class SkippedImageWarning(UserWarning):
    """An image of the training folder had no usable face and was skipped.

    Example:
        >>> import pathlib, tempfile
        >>> from s2w_toolkit.testing import tiny_backbone
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "note.jpg"
        >>> _ = bad.write_text("not a photo")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     faces, skipped = load_faces([bad], tiny_backbone())
        >>> len(faces), caught[0].category.__name__, str(caught[0].message)
        (0, 'SkippedImageWarning', 'skipped .../note.jpg: not an image, or corrupt')
    """


@dataclass
class TrainResult:
    """A trained head with its L1 loss on the training pairs before and after training.

    Example:
        >>> r = TrainResult(head=None, loss_before=0.2, loss_after=0.1, faces=4, pairs=8, steps=2)
        >>> r.summary()["loss_after"]
        0.1
    """

    head: Any
    loss_before: float
    loss_after: float
    faces: int
    pairs: int
    steps: int
    skipped: list[str] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Plain data about the training run (stored in the head file)."""
        return {"loss_before": float(self.loss_before), "loss_after": float(self.loss_after),
                "faces": int(self.faces), "pairs": int(self.pairs), "steps": int(self.steps),
                "skipped": len(self.skipped), **self.settings}


def image_paths(images: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Image files of a folder (recursively, sorted), or the given paths as they are."""
    if isinstance(images, (str, os.PathLike)):
        folder = Path(images)
        if not folder.is_dir():
            raise S2WError(f"{folder}: not a folder of face images")
        return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))
    return [Path(p) for p in images]


def load_faces(paths: list[Path], backbone: Any, aligned: bool = False) -> tuple[np.ndarray, list[str]]:
    """Faces aligned for ``backbone`` ``(N, H, W, 3)`` and the paths skipped (with a warning)."""
    faces, skipped = [], []
    for path in paths:
        try:
            face, _ = load_face(path, backbone, aligned=aligned)
        except S2WError as exc:
            reason = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            warnings.warn(f"skipped {reason}", SkippedImageWarning, stacklevel=2)
            skipped.append(str(path))
            continue
        faces.append(face)
    if not faces:
        return np.zeros((0, 1, 1, 3), np.uint8), skipped
    return np.stack(faces), skipped


def sample_pairs(count: int, faces: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` ordered pairs ``(i, j)`` of distinct faces, uniformly with replacement: ``(count, 2)``."""
    first = torch.randint(faces, (count,), generator=generator)
    offset = torch.randint(1, faces, (count,), generator=generator)
    return torch.stack([first, (first + offset) % faces], dim=1)


def pair_cosines(grids: torch.Tensor, pairs: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Patch cosines ``(P, h, w)`` of ``pairs`` ``(P, 2)`` of indices into ``grids``."""
    return torch.cat([patch_cosines(grids[chunk[:, 0]], grids[chunk[:, 1]]) for chunk in pairs.split(batch_size)])


def pair_xcos(head: AttentionHead, grids: torch.Tensor, pairs: torch.Tensor, cosines: torch.Tensor) -> torch.Tensor:
    """The head's xCos ``(P,)`` of ``pairs`` with their precomputed patch ``cosines``."""
    return xcos_score(cosines, head.softmax(head.pair_logits(grids, pairs)))


def pair_loss(head: AttentionHead, grids: torch.Tensor, pairs: torch.Tensor, cosines: torch.Tensor,
              targets: torch.Tensor, batch_size: int = 64) -> float:
    """Mean L1 distance between xCos and the backbone cosine ``targets`` over ``pairs``."""
    total = 0.0
    with torch.no_grad():
        for chunk in torch.arange(len(pairs), device=pairs.device).split(batch_size):
            total += (pair_xcos(head, grids, pairs[chunk], cosines[chunk]) - targets[chunk]).abs().sum().item()
    return total / max(1, len(pairs))


def _optimise(head: AttentionHead, grids: torch.Tensor, chosen: torch.Tensor, cosines: torch.Tensor,
              targets: torch.Tensor, epochs: int, batch_size: int, lr: float,
              generator: torch.Generator) -> tuple[float, list[float], int]:
    """Adam on the L1 loss; returns the loss before training, the mean loss of each epoch and
    the number of steps."""
    device = grids.device
    loss_before = pair_loss(head, grids, chosen, cosines, targets, batch_size)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    history, steps = [], 0
    for _ in range(epochs):
        order = torch.randperm(len(chosen), generator=generator).to(device)
        running = 0.0
        for chunk in order.split(batch_size):
            loss = (pair_xcos(head, grids, chosen[chunk], cosines[chunk]) - targets[chunk]).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            running += loss.item() * len(chunk)
            steps += 1
        history.append(running / len(chosen))
    return loss_before, history, steps


def train_head(images: str | os.PathLike | Iterable[str | os.PathLike], backbone: Any, *, epochs: int = 40,
               pairs: int = 256, seed: int = 0, batch_size: int = 64, lr: float = 0.01, hidden: int = 32,
               aligned: bool = False) -> TrainResult:
    """Train an :class:`AttentionHead` for ``backbone`` on the faces of ``images`` (a folder or
    a list of paths). Images without a usable face are skipped with a warning. Deterministic
    for a given ``seed``; runs on the backbone's device.
    """
    if epochs < 0 or pairs < 1 or batch_size < 1:
        raise S2WError(f"xcos train: need epochs >= 0, pairs >= 1 and batch size >= 1 "
                       f"(got {epochs}, {pairs}, {batch_size})")
    paths = image_paths(images)
    faces, skipped = load_faces(paths, backbone, aligned=aligned)
    if len(faces) < 2:
        raise S2WError(f"xcos train: found {len(faces)} usable face(s) in {len(paths)} image(s); "
                       f"at least 2 are needed to make pairs")
    backbone.eval()
    grids, embeddings = face_grids(backbone, faces, batch_size)
    device = grids.device
    generator = torch.Generator().manual_seed(int(seed))
    chosen = sample_pairs(pairs, len(faces), generator).to(device)
    targets = (embeddings[chosen[:, 0]] * embeddings[chosen[:, 1]]).sum(dim=1)  # the backbone's cosine
    cosines = pair_cosines(grids, chosen, batch_size)  # fixed: only the attention trains
    _, c, h, w = grids.shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        head = AttentionHead(c, h, w, hidden=hidden, backbone=getattr(backbone, "name", ""))
    head.feature_scale.fill_(float(grids.norm(dim=1).mean().clamp_min(1e-6)))
    head = head.to(device)
    threads = torch.get_num_threads()
    if device.type == "cpu":  # tiny tensors: sharing them between threads costs more than it gains
        torch.set_num_threads(1)
    try:
        loss_before, history, steps = _optimise(head, grids, chosen, cosines, targets, epochs, batch_size, lr,
                                                generator)
        head.eval()
        loss_after = pair_loss(head, grids, chosen, cosines, targets, batch_size)
    finally:
        torch.set_num_threads(threads)
    settings = {"epochs": int(epochs), "seed": int(seed), "batch_size": int(batch_size), "lr": float(lr),
                "hidden": int(hidden), "steps_per_epoch": math.ceil(pairs / batch_size)}
    return TrainResult(head=head, loss_before=loss_before, loss_after=loss_after, faces=len(faces), pairs=pairs,
                       steps=steps, skipped=skipped, history=history, settings=settings)
