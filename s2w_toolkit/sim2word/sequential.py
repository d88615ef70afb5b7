"""Sequential controls: draw a word's random placements in rounds and stop once its decision
cannot change (Besag and Clifford, "Sequential Monte Carlo p-values", Biometrika 1991).

A word is supported at level a with K placements only when at most a (K + 1) - 1 of them do at
least as well as it does; once h = :func:`~s2w_toolkit.sim2word.support.stop_after` of them
have, it cannot be, and drawing more changes nothing. So placements are scored in rounds of
:data:`ROUND` (every direction, word and copy in the same batches); after each round a word
stops when h placements have done at least as well as it in *every* ranking it is judged in
(both, distinguishing and shared, for the cosine; the rise alone for the uncertainty). A word
that reaches K without stopping is a *candidate*: its direction then draws every remaining
placement of every word, because the selection-matched control needs the k-th placement of all
of them. The decisions are the full draw's, exactly: a stopped word has lost in the full draw
too, and a direction with a candidate is drawn in full. Only the p-values of stopped words in a
direction without a candidate differ: Besag and Clifford's h / n instead of the full rank.

Example:
    >>> import torch
    >>> def score(masks):  # every word's placements alternate 0.6, 0.8, 0.6, 0.8, ...
    ...     return torch.tensor([0.6, 0.8]).repeat(masks.shape[1] // 2)[None]
    >>> placed, active = torch.ones(1, 2, 19, 2, 2, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    >>> _, drawn = draw_controls(score, placed, torch.tensor([[0.7, 0.7]]), active, [(1, -1)], stop=2, round_size=2)
    >>> drawn.tolist()  # after 4 placements, 2 did better and 2 worse: neither ranking can support them
    [[4, 4]]
    >>> _, drawn = draw_controls(score, placed, torch.tensor([[0.7, 0.9]]), active, [(1, -1)], stop=2, round_size=2)
    >>> drawn.tolist()  # 0.9 beats every placement: a candidate, so its direction is drawn in full
    [[19, 19]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .support import base_word

import torch

#: Placements per word scored in one round.
ROUND = 4
#: How far a placement must do better than a word for the sequential rule to count it: larger
#: than any rounding between this rule's pooled value and the full test's, so a stop is never
#: premature (a placement that only ties is left for the full test).
CLEAR = 1e-6


def _stopped(controls: torch.Tensor, values: torch.Tensor, signs: Sequence[Sequence[int]], stop: int) -> torch.Tensor:
    """``(D, A)``: words for which ``stop`` drawn placements (non-NaN ``controls`` ``(D, A, K)``)
    did at least as well as the value in every one of their direction's ``signs``."""
    done = torch.ones(values.shape, dtype=torch.bool)
    for d, direction in enumerate(signs):
        for sign in direction:
            # only clear beats (1e-6 above the tie tolerance of the full test): stopping late is safe
            beats = (sign * (controls[d] - values[d, :, None]) >= CLEAR).sum(dim=1)  # NaN compares False
            done[d] &= beats >= stop
    return done


def draw_controls(score: Callable[[torch.Tensor], torch.Tensor], placed: torch.Tensor, values: torch.Tensor,
                  active: torch.Tensor, signs: Sequence[Sequence[int]], stop: int,
                  round_size: int = ROUND) -> tuple[torch.Tensor, torch.Tensor]:
    """Score the placements ``placed`` ``(D, A, K, H, W)`` (bool) of words whose values are
    ``values`` ``(D, A)``, for the words in ``active`` ``(D, A)``, in rounds (see the module
    docs); ``score(masks (D, M, H, W))`` returns the ``(D, M)`` values of those erasures (an
    empty mask costs nothing). ``stop`` 0 draws everything at once. Returns the controls
    ``(D, A, K)`` (NaN where not drawn) and how many placements each word has ``(D, A)``."""
    d, a, k = placed.shape[:3]
    controls = torch.full((d, a, k), float("nan"))
    drawn = torch.zeros((d, a), dtype=torch.long)
    active = active.clone().cpu()
    values = values.detach().float().cpu()
    start = 0
    size = k if stop <= 0 else max(1, round_size)
    while start < k and bool(active.any()):
        end = min(k, start + size)
        chosen = placed[:, :, start:end] & active.to(placed.device)[:, :, None, None, None]
        out = score(chosen.flatten(1, 2)).float().cpu().reshape(d, a, end - start)
        controls[:, :, start:end] = torch.where(active[:, :, None], out, controls[:, :, start:end])
        drawn[active] = end
        start = end
        if stop > 0:
            active &= ~_stopped(controls, values, signs, stop)
    candidates = active.any(dim=1)  # a word reached K unstopped: its direction is drawn in full
    if bool(candidates.any()):
        missing = (torch.arange(k)[None, None] >= drawn[:, :, None]) & candidates[:, None, None]
        missing &= (drawn > 0)[:, :, None]
        if bool(missing.any()):
            out = score((placed & missing.to(placed.device)[..., None, None]).flatten(1, 2)).float().cpu()
            controls = torch.where(missing, out.reshape(d, a, k), controls)
            drawn = torch.where(candidates[:, None] & (drawn > 0), torch.full_like(drawn, k), drawn)
    return controls, drawn


def pooled_values(values: torch.Tensor, baselines: torch.Tensor, eligible: torch.Tensor, words: list[list[str]],
                  groups: list[int], controlled: list[int]) -> torch.Tensor:
    """``(C, A)``: each controlled direction's value, its change from its unerased value
    (``baselines``) averaged with its copies' changes (a copy counts for an attribute where it
    is eligible and names the same word), on the photo's unerased value."""
    changes = values.detach().double().cpu() - baselines.detach().double().cpu()[:, None]
    eligible = eligible.cpu()
    out = values.detach().double().cpu()[controlled].clone()
    for c, d in enumerate(controlled):
        members = [e for e, g in enumerate(groups) if g == d]
        for j in range(values.shape[1]):
            same = [float(changes[e, j]) for e in members
                    if bool(eligible[e, j]) and base_word(words[e][j]) == base_word(words[d][j])]
            if same:
                out[c, j] = float(baselines[d]) + sum(same) / len(same)
    return out
