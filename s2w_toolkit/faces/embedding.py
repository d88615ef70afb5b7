"""Embedding the faces of a pair list: each (image, face index) detected, aligned and embedded
once, ``batch_size`` faces per forward pass (``s2w calibrate`` and ``s2w audit``).

Example:
    >>> from s2w_toolkit import load_backbone
    >>> from s2w_toolkit.bench.pairs import read_pairs
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> units, failed = embed_faces(read_pairs()[:2], net, batch_size=2)
    >>> len(units), failed, tuple(next(iter(units.values())).shape)
    (3, {}, (128,))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import S2WError


def face_keys(specs: Sequence[Any]) -> list[tuple[str, int]]:
    """The distinct ``(path, face index)`` of the pairs, in order of first use."""
    return list(dict.fromkeys(side for s in specs for side in ((s.a, s.face_a), (s.b, s.face_b))))


def embed_faces(specs: Sequence[Any], net: Any, aligned: bool = False, batch_size: int = 64, cache: Any = None,
                on_batch: Callable[[list, Any], None] | None = None,
                advance: Callable[[], None] | None = None) -> tuple[dict, dict]:
    """Unit embeddings (CPU tensors) per ``(path, face index)`` of the pairs' images, and the
    error of each image that could not be used. A face is only resized, not detected, with
    ``aligned`` or when its pair says it is aligned (``spec.aligned``). ``cache``: a
    :class:`~s2w_toolkit.faces.cache.FaceCache`; ``on_batch(keys, faces)`` hears each batch of
    aligned faces (``(B, H, W, 3)`` uint8), e.g. to predict attributes; ``advance()`` after each face."""
    import numpy as np
    import torch

    from ..pipeline import load_face
    from .detect import FaceDetector

    detector = FaceDetector(landmarks=net.template.landmarks)
    units: dict = {}
    failed: dict = {}
    pending: list = []

    def flush() -> None:
        if not pending:
            return
        faces = np.stack([face for _, face in pending])
        with torch.no_grad():
            embedded = net.embed(net.preprocess(faces).to(net.device)).float().cpu()
        for (key, _), unit in zip(pending, embedded):
            if torch.isfinite(unit).all():
                units[key] = unit
            else:
                failed[key] = f"backbone {net.name!r} gave a non-finite embedding for {key[0]}"
        if on_batch is not None:
            on_batch([key for key, _ in pending], faces)
        pending.clear()

    crops = {side for s in specs if aligned or getattr(s, "aligned", False)  # already aligned faces (.bin sets)
             for side in ((s.a, s.face_a), (s.b, s.face_b))}
    for key in face_keys(specs):
        crop = key in crops
        compute = lambda: load_face(key[0], net, key[1], crop, detector)  # noqa: E731
        try:
            face = compute()[0] if cache is None else cache.load(key[0], net.template, key[1], crop, compute)[0]
            pending.append((key, face))
        except S2WError as exc:
            failed[key] = str(exc)
        if len(pending) >= batch_size:
            flush()
        if advance is not None:
            advance()
    flush()
    return units, failed
