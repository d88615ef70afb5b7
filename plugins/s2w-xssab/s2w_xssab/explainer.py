"""xSSAB: where each face raises and where it lowers the cosine similarity.

The cosine of two L2-normalised embeddings ``â = f(a)/||f(a)||`` and ``b̂`` is a sum of
element-wise *arguments* ``p_k = â_k b̂_k``. The arguments split by sign into

* ``S+ = sum_{k: p_k > 0} p_k`` (the arguments for a match) and
* ``S- = sum_{k: p_k < 0} p_k`` (the arguments against it), with ``S+ + S- = cos(a, b)``.

Each sum is backpropagated on its own to the preprocessed input of each face (the sign sets are
fixed by the forward pass; the gradient passes through the L2 normalisation). For face ``a`` the
other face's ``b̂`` does not depend on ``a``, so ``dS±/da = sum_{k in K±} b̂_k dâ_k/da``: ``b̂``
acts as a constant, and the same holds the other way round. The map of a side is, with ``x`` the
preprocessed face ``(3, H, W)`` and ``g = dS±/dx``:

* ``map="gradient"`` (default): ``M(i, j) = sum_c |g[c, i, j]|``
* ``map="gradient-x-input"``:    ``M(i, j) = sum_c g[c, i, j] * x[c, i, j]`` (signed)

Reference: M. Huber, A. T. Luu, P. Terhörst, N. Damer, "Efficient Explainable Face Verification
based on Similarity Score Argument Backpropagation", WACV 2024, pp. 4736-4745 (arXiv:2304.13409).

Example:
    >>> import numpy as np
    >>> from s2w_toolkit import Pair, load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    >>> x = net.preprocess(faces)
    >>> e = XSSABExplainer().explain(Pair(x[:1], x[1:], faces[0], faces[1]), net)
    >>> e.maps["a"].shape, sorted(e.extra_maps)
    ((150, 150), ['negative', 'positive'])
    >>> abs(e.metadata["sum_pos"] + e.metadata["sum_neg"] - e.score) < 1e-5
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from s2w_toolkit.explainers.explanation import Explanation
from s2w_toolkit.interfaces import Explainer, Pair
from s2w_toolkit.options import BaseOptions
from s2w_toolkit.targets import SimilarityTo

REFERENCE = ("M. Huber, A. T. Luu, P. Terhörst, N. Damer: Efficient Explainable Face Verification based on "
             "Similarity Score Argument Backpropagation. WACV 2024, pp. 4736-4745. arXiv:2304.13409")
MAP_FORMULAS = {
    "gradient": "M(i,j) = sum_c |dS/dx[c,i,j]|",
    "gradient-x-input": "M(i,j) = sum_c dS/dx[c,i,j] * x[c,i,j]",
}
FORMULA = ("p_k = â_k * b̂_k with â = f(a)/||f(a)||, b̂ = f(b)/||f(b)||; S+ = sum_{k: p_k > 0} p_k, "
           "S- = sum_{k: p_k < 0} p_k, S+ + S- = cos(a, b); x = preprocessed face, gradients dS+/dx and "
           "dS-/dx through the L2 normalisation, sign sets fixed by the forward pass, the other face's "
           "embedding constant; ")
SIDES = ("a", "b")
SIGNS = ("positive", "negative")


@dataclass
class ArgumentGradients:
    """The similarity arguments of one pair and the input gradients of their signed sums.

    ``arguments``: ``p = â * b̂`` ``(N, D)``; ``sum_pos``/``sum_neg``: ``S+``/``S-`` ``(N,)``;
    ``grads[sign][side]``: ``dS_sign/dx_side``, shaped like the input of that side.

    Example:
        >>> import torch
        >>> from s2w_toolkit import load_backbone
        >>> net = load_backbone("dlib-resnet", device="cpu")
        >>> x = torch.rand(2, 3, 150, 150)
        >>> g = argument_gradients(net, x[:1], x[1:])
        >>> g.grads["positive"]["a"].shape, bool(torch.allclose(g.sum_pos + g.sum_neg, g.arguments.sum(1)))
        (torch.Size([1, 3, 150, 150]), True)
    """

    arguments: torch.Tensor
    sum_pos: torch.Tensor
    sum_neg: torch.Tensor
    grads: dict[str, dict[str, torch.Tensor]]


def argument_gradients(backbone: Any, a: torch.Tensor, b: torch.Tensor) -> ArgumentGradients:
    """Backpropagate ``S+`` and ``S-`` of the pair ``(a, b)`` (preprocessed ``(N, 3, H, W)``
    batches) to both inputs, one backward pass per sign."""
    sizes = {"a": len(a), "b": len(b)}
    if len(a) != len(b):  # one face against several: the single one is repeated
        if min(len(a), len(b)) != 1:
            raise ValueError(f"argument_gradients needs batches of equal size or of one face, got {len(a)} and {len(b)}")
        a, b = a.expand(len(b), *a.shape[1:]) if len(a) == 1 else a, b.expand(len(a), *b.shape[1:]) if len(b) == 1 else b
    n = len(a)
    x = torch.cat([a, b]).detach().requires_grad_(True)
    grads = {}
    with torch.enable_grad():
        embedded = backbone.embed(x)  # one forward pass; each sign's part of the cosine is a masked target
        units = embedded.detach()
        args = units[:n] * units[n:]
        other = torch.cat([units[n:], units[:n]])  # each face's target: the other face's embedding
        signs = {"positive": args > 0, "negative": args < 0}
        sums = {sign: (args * mask).sum(dim=1) for sign, mask in signs.items()}
        for i, sign in enumerate(SIGNS):
            part = SimilarityTo(backbone.embed, other * signs[sign].repeat(2, 1)).of_embeddings(embedded)
            (grad,) = torch.autograd.grad(part.sum(), (x,), retain_graph=i == 0, allow_unused=True)
            grad = torch.zeros_like(x) if grad is None else grad
            grads[sign] = {side: g.sum(dim=0, keepdim=True) if sizes[side] == 1 < n else g  # like the input
                           for side, g in (("a", grad[:n]), ("b", grad[n:]))}
    return ArgumentGradients(args, sums["positive"], sums["negative"], grads)


def gradient_map(grad: torch.Tensor, x: torch.Tensor, mode: str = "gradient") -> torch.Tensor:
    """Per-pixel maps ``(N, H, W)`` from input gradients ``(N, C, H, W)`` (see ``MAP_FORMULAS``)."""
    if mode == "gradient":
        out = grad.abs().sum(dim=1)
    elif mode == "gradient-x-input":
        out = (grad * x).sum(dim=1)
    else:
        raise ValueError(f"map must be one of {', '.join(MAP_FORMULAS)}, got {mode!r}")
    return torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _top(args: torch.Tensor, k: int, negative: bool) -> list[list[float]]:
    values = -args if negative else args
    chosen = torch.topk(values, min(k, args.numel())).indices
    return [[int(i), float(args[i])] for i in chosen if (args[i] < 0 if negative else args[i] > 0)]


@dataclass(frozen=True)
class XSSABOptions(BaseOptions):
    """xSSAB's options; ``batch_size`` and ``seed`` are accepted and unused.

    Example:
        >>> XSSABOptions().map, XSSABOptions().top
        ('gradient', 5)
    """

    map: Literal["gradient", "gradient-x-input"] = field(default="gradient", metadata={
        "help": "gradient: sum_c |dS/dx|; gradient-x-input: sum_c dS/dx * x (signed)"})
    top: int = field(default=5, metadata={"help": "arguments listed per sign in metadata.top_arguments", "min": 0})


class XSSABExplainer(Explainer):
    """xSSAB maps: ``maps`` = where each face raises the similarity (positive arguments),
    ``extra_maps["negative"]`` = where it lowers it.

    Options (:class:`XSSABOptions`; strings from the CLI): ``map`` (``gradient`` or
    ``gradient-x-input``, default ``gradient``), ``top`` (arguments listed in metadata per
    sign, default 5). ``batch_size`` is accepted and unused (one forward and two backward
    passes per pair).

    Example:
        >>> XSSABExplainer(map="gradient-x-input", top="3").settings
        {'map': 'gradient-x-input', 'top': 3}
    """

    name = "xssab"
    Options = XSSABOptions
    dissimilarity_map = "negative"  # where a face lowers the similarity

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = {"map": self.options.map, "top": self.options.top}

    def explain(self, pair: Pair, backbone: Any, attributes: Any = None) -> Explanation:
        mode = self.settings["map"]
        found = argument_gradients(backbone, pair.a, pair.b)
        inputs = {"a": pair.a.detach(), "b": pair.b.detach()}
        maps = {sign: {side: gradient_map(found.grads[sign][side], inputs[side], mode)[0] for side in SIDES}
                for sign in SIGNS}
        with torch.no_grad():
            cosine = float(backbone.similarity(pair.a, pair.b)[0])
        sum_pos, sum_neg = float(found.sum_pos[0]), float(found.sum_neg[0])
        args = found.arguments[0]
        metadata = {
            "method": "xSSAB: similarity score argument backpropagation",
            "reference": REFERENCE,
            "score": "the backbone's cosine similarity of the pair",
            "formula": FORMULA + MAP_FORMULAS[mode],
            "maps": "maps = positive-argument map per side; extra_maps.positive (same) and extra_maps.negative",
            "options": dict(self.settings),
            "sum_pos": sum_pos,
            "sum_neg": sum_neg,
            "cosine": cosine,
            "sum_pos_plus_sum_neg": sum_pos + sum_neg,
            "sum_check_abs_error": abs(sum_pos + sum_neg - cosine),
            "n_positive": int((args > 0).sum()),
            "n_negative": int((args < 0).sum()),
            "embedding_dim": int(args.numel()),
            "top_arguments": {"positive": _top(args, self.settings["top"], False),
                              "negative": _top(args, self.settings["top"], True)},
        }
        return Explanation(score=cosine, maps=maps["positive"], explainer=self.name,
                           extra_maps={"negative": maps["negative"], "positive": maps["positive"]},
                           metadata=metadata)
