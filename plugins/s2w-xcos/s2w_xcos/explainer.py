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
    >>> e = XCosExplainer(attention="uniform").explain(pair, net)
    >>> e.maps["a"].shape, e.metadata["attention"], sorted(e.extra_maps)
    ((8, 8), 'uniform', ['attention', 'cosine'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from s2w_toolkit.explainers.explanation import Explanation
from s2w_toolkit.interfaces import Explainer
from s2w_toolkit.options import BaseOptions

from .grids import ATTENTIONS, cam_grids, patch_cosines, xcos_score
from .head import AttentionHead, load_head

REFERENCE = ("Y.-S. Lin, Z.-Y. Liu, Y.-A. Chen, Y.-S. Wang, Y.-L. Chang, W. H. Hsu: xCos: An Explainable "
             "Cosine Metric for Face Verification Task. ACM TOMM 17(3s), 2021. arXiv:2003.05383")


@dataclass(frozen=True)
class XCosOptions(BaseOptions):
    """xCos's options; ``seed`` is accepted and unused (nothing here is random).

    Example:
        >>> XCosOptions(head="h.pt").head_file()
        'h.pt'
        >>> XCosOptions(attention="uniform", head="h.pt")
        Traceback (most recent call last):
        ...
        ValueError: attention=uniform conflicts with xcos_head=h.pt (a head gives the trained attention)
    """

    attention: Literal["norms", "uniform", "trained"] | None = field(default=None, metadata={
        "help": "norms or uniform (training-free), or trained (needs a head); none: trained with a head, else norms"})
    xcos_head: str | None = field(default=None, metadata={"help": "head file from s2w xcos train"})
    head: str | None = field(default=None, metadata={"help": "the same as xcos_head"})

    def __post_init__(self) -> None:
        if self.xcos_head and self.head and self.xcos_head != self.head:
            raise ValueError("give the head file once: xcos_head and head name different files")
        head = self.head_file()
        if head and self.attention not in (None, "trained"):
            raise ValueError(f"attention={self.attention} conflicts with xcos_head={head} (a head gives the "
                             f"trained attention)")
        if not head and self.attention == "trained":
            raise ValueError("attention=trained needs xcos_head=PATH")

    def head_file(self) -> str | None:
        """The head file given as ``xcos_head`` or ``head``, if any."""
        return self.xcos_head or self.head or None


class XCosExplainer(Explainer):
    """xCos: patch-wise cosines of the two faces' feature grids, weighted by an attention map.

    Options (:class:`XCosOptions`; strings from ``-o KEY=VALUE`` are accepted):
    ``attention`` = ``norms`` (default; ``a_ij ∝ ||F_a[ij]|| ||F_b[ij]||``) or ``uniform``;
    ``xcos_head`` (alias ``head``) = a head file from ``s2w xcos train`` (then the attention is
    ``trained:<path>``); ``batch_size`` (default 64); ``seed`` (accepted, unused: nothing here
    is random).

    Example:
        >>> XCosExplainer(attention="norms").settings["attention"]
        'norms'
        >>> XCosExplainer(bogus="1")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.OptionError: explainer 'xcos' has no option 'bogus'; its options: attention, ...
    """

    name = "xcos"
    Options = XCosOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        head = self.options.head_file()
        self.settings = {"attention": self.options.attention or ("trained" if head else "norms"), "head": head,
                         "batch_size": self.options.batch_size, "seed": self.options.seed}
        self._head: AttentionHead | None = None
        self._head_backbone: str | None = None

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

    def figure(self, explanation: Explanation, face_a, face_b):
        """Both faces, then the patch cosines, attention and their product as labelled grids."""
        from .render import xcos_figure

        return xcos_figure(explanation, face_a, face_b)
