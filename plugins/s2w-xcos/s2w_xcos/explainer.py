"""The ``xcos`` explainer: where the two faces agree, cell by cell, and how much each cell counts.

On the backbone's last spatial feature map (``cam_layer``, 128x8x8 for dlib-resnet) it returns,
for both faces (one shared grid):

* ``maps``: the contribution of each cell to xCos, ``attention_ij * cos_ij``;
* ``extra_maps["cosine"]``: the patch cosines ``cos_ij``;
* ``extra_maps["attention"]``: the attention ``a_ij`` (sums to 1).

``score`` is the backbone's cosine; the xCos score ``sum_ij a_ij cos_ij`` is
``metadata["xcos"]``.

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> e = XCos(attention="uniform").explain(pair, net)
    >>> e.maps["a"].shape, e.metadata["attention"], sorted(e.extra_maps)
    ((8, 8), 'uniform', ['attention', 'cosine'])
"""

from __future__ import annotations

from typing import Any

import torch
from s2w_toolkit.explanation import Explanation
from s2w_toolkit.interfaces import Explainer

from .grids import ATTENTIONS, cam_grids, patch_cosines, xcos_score
from .head import AttentionHead, load_head

REFERENCE = ("Y.-S. Lin, Z.-Y. Liu, Y.-A. Chen, Y.-S. Wang, Y.-L. Chang, W. H. Hsu: xCos: An Explainable "
             "Cosine Metric for Face Verification Task. ACM TOMM 17(3s), 2021. arXiv:2003.05383")
OPTIONS = ("attention", "xcos_head", "head", "batch_size", "seed")


def _integer(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < 1 and name == "batch_size":
        raise ValueError(f"batch_size must be at least 1, got {number}")
    return number


class XCos(Explainer):
    """xCos: patch-wise cosines of the two faces' feature grids, weighted by an attention map.

    Options (strings from ``-o KEY=VALUE`` are accepted):
    ``attention`` = ``norms`` (default; ``a_ij ∝ ||F_a[ij]|| ||F_b[ij]||``) or ``uniform``;
    ``xcos_head`` (alias ``head``) = a head file from ``s2w xcos train`` (then the attention is
    ``trained:<path>``); ``batch_size`` (default 64); ``seed`` (accepted, unused: nothing here
    is random).

    Example:
        >>> XCos(attention="norms").settings["attention"]
        'norms'
        >>> XCos(bogus="1")
        Traceback (most recent call last):
        ...
        ValueError: unknown option(s) bogus; known: attention, xcos_head, head, batch_size, seed
    """

    name = "xcos"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = self._settings(options)
        self._head: AttentionHead | None = None
        self._head_backbone: str | None = None

    @staticmethod
    def _settings(options: dict) -> dict:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        head = options.get("xcos_head") or options.get("head")
        if options.get("xcos_head") and options.get("head") and options["xcos_head"] != options["head"]:
            raise ValueError("give the head file once: xcos_head and head name different files")
        attention = str(options.get("attention", "trained" if head else "norms")).strip().lower()
        if head:
            if attention != "trained":
                raise ValueError(f"attention={attention} conflicts with xcos_head={head} (a head gives the "
                                 f"trained attention)")
        elif attention not in ATTENTIONS:
            hint = "; attention=trained needs xcos_head=PATH" if attention == "trained" else ""
            raise ValueError(f"unknown attention {attention!r}; use norms or uniform{hint}")
        return {"attention": attention, "head": str(head) if head else None,
                "batch_size": _integer("batch_size", options.get("batch_size", 64)),
                "seed": _integer("seed", options.get("seed", 0))}

    def attention_kind(self) -> str:
        """``norms``, ``uniform`` or ``trained:<path>``, as stored in the metadata."""
        head = self.settings["head"]
        return f"trained:{head}" if head else self.settings["attention"]

    def head_for(self, backbone: Any, device: torch.device) -> AttentionHead:
        """The trained head (read once), checked against ``backbone``, on ``device``."""
        name = getattr(backbone, "name", None)
        if self._head is None or self._head_backbone != name:
            self._head = load_head(self.settings["head"], backbone=name, device=device)
            self._head_backbone = name
        return self._head.to(device)

    def attention(self, grid_a: torch.Tensor, grid_b: torch.Tensor, backbone: Any) -> torch.Tensor:
        """The attention ``(N, h, w)`` over the grid for grids ``(N, C, h, w)``."""
        if self.settings["head"] is None:
            return ATTENTIONS[self.settings["attention"]](grid_a, grid_b)
        head = self.head_for(backbone, grid_a.device)
        head.check_grid(grid_a, getattr(backbone, "name", "?"), source=self.settings["head"])
        with torch.no_grad():
            return head(grid_a, grid_b)

    def explain(self, pair, backbone, attributes=None) -> Explanation:
        x = torch.cat([pair.a, pair.b]).to(backbone.device)
        grids, embeddings = cam_grids(backbone, x, self.settings["batch_size"])
        grid_a, grid_b = grids[:1], grids[1:]
        cosines = patch_cosines(grid_a, grid_b)
        attention = self.attention(grid_a, grid_b, backbone)
        contribution = cosines * attention
        xcos = xcos_score(cosines, attention).item()
        score = float((embeddings[0] * embeddings[1]).sum().clamp(-1.0, 1.0))
        _, c, h, w = grids.shape
        same = {"a": contribution[0], "b": contribution[0]}
        metadata = {
            "method": "xCos (explainable cosine)",
            "reference": REFERENCE,
            "score_is": "the backbone's cosine similarity; the xCos score is metadata.xcos",
            "xcos": xcos,
            "xcos_minus_cosine": xcos - score,
            "mean_patch_cosine": float(cosines.mean()),
            "attention": self.attention_kind(),
            "grid": [h, w],
            "channels": c,
            "layer": type(backbone.cam_layer).__name__,
            "maps": "patch cosine x attention per grid cell (shared by both faces); extra maps: cosine, "
                    "attention; grid resolution",
            "formula": "xCos = sum_ij a_ij cos(F_a[ij], F_b[ij]), sum_ij a_ij = 1",
            "batch_size": self.settings["batch_size"],
        }
        return Explanation(
            score=score, maps=same, explainer=self.name, metadata=metadata,
            extra_maps={"cosine": {"a": cosines[0], "b": cosines[0]},
                        "attention": {"a": attention[0], "b": attention[0]}})

    def render(self, explanation: Explanation, face_a, face_b, path) -> str:
        """Both faces, then the patch cosines, attention and their product as labelled grids."""
        from .render import render_xcos

        return render_xcos(explanation, face_a, face_b, path)
