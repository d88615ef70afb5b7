"""Scoring the metric images of several pairs and explainers in shared batches.

A metric's images (a face with masked pixels taken from a source image) are described by a
:class:`ScoreRequest` instead of being scored at once. :func:`score_requests` streams the
images of many requests through the backbone in chunks of ``batch_size``, a chunk running
across request boundaries, and gives each request its cosines back. A metric returns a
:class:`Pending` from :meth:`~s2w_toolkit.bench.metric.Metric.measure` (its requests and the
function that turns their cosines into the row's value); the runner collects the pending
values of a group of pairs (``--group``) and resolves them together, in the order they were
made, with :func:`resolve`.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from s2w_toolkit.backbones.wrapped import wrap_module
    >>> net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), input_size=(8, 8))
    >>> x, counter = torch.randn(1, 3, 8, 8), torch.nn.functional.normalize(torch.randn(1, 144), dim=1)
    >>> masks = torch.zeros(3, 8, 8, dtype=torch.bool); masks[1:, :4] = True
    >>> one = ScoreRequest(net, x, torch.zeros(1, 3, 8, 8), masks, counter)
    >>> two = ScoreRequest(net, x, torch.zeros(1, 3, 8, 8), masks[:2], counter)
    >>> together = score_requests([one, two], batch_size=4)      # one chunk of 4, one of 1
    >>> [len(s) for s in together], torch.allclose(torch.tensor(together[0][:2]), torch.tensor(together[1]))
    ([3, 2], True)
    >>> resolve([Pending([one], lambda scores: len(scores[0])), Pending([two], lambda scores: 1 / 0)], 2)
    [3, ZeroDivisionError('division by zero')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

#: Pending images kept before a group's requests are scored (each holds its sources in memory).
MAX_PENDING_IMAGES = 2048


@dataclass
class ScoreRequest:
    """cos(f(x * (1 - m) + s * m), counter) for every mask ``m`` of ``masks`` ``(M, H, W)``:
    ``x`` one preprocessed face ``(1, 3, H, W)``, ``sources`` one image for every mask or one
    per mask, ``counter`` a unit embedding ``(1, D)``, all on the backbone's device.

    Example:
        >>> r = ScoreRequest(None, torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.eye(2, dtype=torch.bool)[:, :, None].expand(2, 2, 2), torch.ones(1, 4))
        >>> len(r), r.images(1, 2)[0, 0].tolist()
        (2, [[1.0, 1.0], [0.0, 0.0]])
    """

    backbone: Any
    x: torch.Tensor
    sources: torch.Tensor
    masks: torch.Tensor
    counter: torch.Tensor

    def __len__(self) -> int:
        return len(self.masks)

    def images(self, start: int, stop: int) -> torch.Tensor:
        """The images of masks ``start:stop``."""
        m = self.masks[start:stop, None].to(self.x.dtype)
        src = self.sources[start:stop] if len(self.sources) == len(self.masks) > 1 else self.sources
        return self.x * (1 - m) + src * m


@torch.no_grad()
def score_requests(requests: Sequence[ScoreRequest], batch_size: int) -> list[list[float]]:
    """Each request's cosines, the images of all of them scored in chunks of ``batch_size`` (a
    chunk may hold the end of one request and the start of the next). The requests share one
    backbone."""
    from ..sim2word.rescore import rescore

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len({id(r.backbone) for r in requests}) > 1:
        raise ValueError("requests scored together must share one backbone")
    out: list[list[float]] = [[] for _ in requests]
    spans = [(i, start, min(start + batch_size, len(r))) for i, r in enumerate(requests)
             for start in range(0, len(r), batch_size)]
    chunk: list[tuple[int, int, int]] = []
    filled = 0

    def flush() -> None:
        images = torch.cat([requests[i].images(a, b) for i, a, b in chunk])
        counters = torch.cat([requests[i].counter.expand(b - a, -1) for i, a, b in chunk])
        cosine, _ = rescore(requests[chunk[0][0]].backbone, images, counters, batch_size)
        values, at = cosine.float().cpu().tolist(), 0
        for i, a, b in chunk:
            out[i].extend(values[at:at + b - a])
            at += b - a

    for i, start, stop in spans:  # cut spans so that every chunk holds exactly batch_size images
        while start < stop:
            take = min(stop - start, batch_size - filled)
            chunk.append((i, start, start + take))
            filled += take
            start += take
            if filled == batch_size:
                flush()
                chunk, filled = [], 0
    if chunk:
        flush()
    return out


@dataclass
class Pending:
    """A metric value waiting for the cosines of its requests: ``finish(scores)`` (one list of
    cosines per request, in order) returns the value stored in the row.

    Example:
        >>> Pending([], lambda scores: {"n": len(scores)}).finish([])
        {'n': 0}
    """

    requests: list[ScoreRequest]
    finish: Callable[[list[list[float]]], Any]
    scores: list[list[float]] | None = field(default=None, repr=False)
    error: BaseException | None = field(default=None, repr=False)

    @property
    def images(self) -> int:
        return sum(len(r) for r in self.requests)


def score_pending(pending: Sequence[Pending], batch_size: int) -> None:
    """Score every request of ``pending`` together; on a failure, each of them holds the error."""
    requests = [r for p in pending for r in p.requests]
    try:
        scores = score_requests(requests, batch_size)
    except KeyboardInterrupt:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - becomes each row's metric error
        for p in pending:
            p.error, p.requests = exc, []
        return
    at = 0
    for p in pending:
        p.scores, at = scores[at:at + len(p.requests)], at + len(p.requests)
        p.requests = []  # scored: its images and sources are no longer held


def resolve(pending: Sequence[Pending], batch_size: int) -> list[Any]:
    """Score what is not scored yet, then finish each in order; a value is the exception a
    failure raised, for the caller to record."""
    score_pending([p for p in pending if p.scores is None and p.error is None], batch_size)
    values: list[Any] = []
    for p in pending:
        if p.error is not None:
            values.append(p.error)
            continue
        try:
            values.append(p.finish(p.scores))
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            values.append(exc)
    return values
