"""Group mode: the most characteristic attributes of one probe face against many others.

The probe is paired with one image of each other identity (the gallery). For every gallery
face g, the counterfactual map of the probe against g is built and each of the probe's
attributes is erased in it; the score is 1 - arccos(s_gj)/pi with s_gj = cos(f(erase_j probe),
f(g)). Scores are averaged over the gallery per attribute (Sim2Word, section "the most
characteristic attributes of a group"). With controls (the default), each (probe, g) direction
judges each word against its random placements as a pair does; attributes are ranked by their
mean excess and a word is *supported* when it is supported against most gallery faces.
Officially (``Settings.official()``) they are ranked by the mean score. One backward pass gives
all identity maps; every erased image of every gallery face goes through the backbone in the
same chunks.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.attributes.composite import load_attributes
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> faces = [load_face(demo_image(n), net)[0] for n in ("obama", "biden", "obama2")]
    >>> result = run_group(net, faces[0], faces[1:], load_attributes("age-gender"))
    >>> len(result.gallery_scores), [r["attribute"] for r in result.rows], "mean_excess" in result.rows[0]
    (2, ['Gender', 'Age'], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..backbones.base import Backbone
from ..interfaces import AttributeModel
from .core import Settings, angular, explain_directions


@dataclass
class GroupResult:
    """Per-attribute averages over the gallery, ranked, and the maps behind them.

    Example:
        >>> rows = [{"attribute": "Age", "eligible": True, "mean_angular": 0.6},
        ...         {"attribute": "Gender", "eligible": True, "mean_angular": 0.8},
        ...         {"attribute": "Smiling", "eligible": False, "mean_angular": 0.9}]
        >>> result = GroupResult(rows, [0.2, 0.3], torch.zeros(4, 4), torch.zeros(4, 4), torch.zeros(3, 4, 4),
        ...                      Settings(), forward_images=12)
        >>> [r["attribute"] for r in result.ranked()]  # no controls: by mean score, eligible ones only
        ['Gender', 'Age']
    """

    rows: list[dict]
    gallery_scores: list[float]  # the probe's plain similarity to each gallery face
    identity: torch.Tensor  # the probe's own identity map (H, W)
    counterfactual: torch.Tensor  # H_d averaged over the gallery (H, W)
    joint: torch.Tensor  # joint maps averaged over the gallery (A, H, W)
    settings: Settings
    forward_images: int
    extra: dict = field(default_factory=dict)

    def ranked(self) -> list[dict]:
        """Eligible attributes, best first: with controls by their mean excess over their random
        placements (signed so that larger is better), else by their mean score over the gallery."""
        key = "mean_excess" if self.extra.get("judged") else "mean_angular"
        return sorted((r for r in self.rows if r["eligible"]), key=lambda r: r.get(key, -math.inf), reverse=True)

    def supported(self) -> list[dict]:
        """The ranked attributes supported (against their controls) for most gallery faces."""
        if not self.extra.get("judged"):
            return self.ranked()
        return [r for r in self.ranked() if 2 * r.get("supported_in", 0) > len(self.gallery_scores)]


def run_group(backbone: Backbone, probe: np.ndarray, gallery: list[np.ndarray], attributes: AttributeModel,
              settings: Settings = Settings(), threshold: float | None = None,
              identity: Backbone | None = None) -> GroupResult:
    """Group mode for an aligned ``probe`` face and aligned ``gallery`` faces (RGB uint8): the
    pair pipeline (:func:`~s2w_toolkit.sim2word.core.explain_directions`), one direction per
    gallery face with the probe as target, so every option (ablations, mask rule, fill, the
    counterfactual, controls and support) means what it means for a pair. The probe alone is
    erased by default (``erase`` None becomes ``"target"``: the gallery is compared as embeddings)."""
    if not gallery:
        raise ValueError("group mode needs at least one gallery face")
    if settings.erase is None:  # the gallery is compared as embeddings: only the probe can be erased
        settings = replace(settings, erase="target")
    threshold = float(backbone.threshold if threshold is None else threshold)
    device = backbone.device
    x_probe = backbone.preprocess(probe).to(device)
    with torch.no_grad():
        x_gallery = backbone.preprocess(np.stack(gallery)).to(device)
        others = torch.cat([backbone(x_gallery[i:i + settings.batch_size])
                            for i in range(0, len(gallery), settings.batch_size)])
    count = len(gallery)
    identity_others = None
    if identity is not None and identity is not backbone:
        from .identity_model import to_template

        with torch.no_grad():
            chips = identity.preprocess(to_template(np.stack(gallery), backbone.template, identity.template))
            chips = chips.to(identity.device)
            identity_others = torch.cat([identity(chips[i:i + settings.batch_size])
                                         for i in range(0, count, settings.batch_size)])
    out = explain_directions(backbone, x_probe, probe[None], attributes, settings, threshold, others=others,
                             pairs=[(0, 1 + g) for g in range(count)], names=[f"g{g}" for g in range(count)],
                             identity=identity, identity_others=identity_others)
    base = [angular(s) for s in out.similarities]
    mean_base = sum(base) / count
    rows = []
    for j, first in enumerate(out.directions[0].rows):
        per = [d.rows[j] for d in out.directions]
        per_face = [r["angular"] for r in per]
        mean = sum(per_face) / count
        row = {k: first[k] for k in ("attribute", "word", "model", "eligible", "present")}
        row.update({"mean_angular": mean, "mean_cosine": math.cos(math.pi * (1 - mean)), "delta": mean - mean_base,
                    "per_gallery": per_face, "erased_fraction": float(np.mean([r["erased_fraction"] for r in per]))})
        if out.directions[0].summary.get("judged") and "excess" in first:
            row["mean_excess"] = float(np.mean([d.sign * r["excess"] for d, r in zip(out.directions, per)]))
            row["supported_in"] = sum(bool(r["supported"]) for r in per)
        rows.append(row)
    stack = torch.stack
    return GroupResult(rows, out.similarities, out.directions[0].identity,
                       stack([d.counterfactual for d in out.directions]).mean(0),
                       stack([d.joint for d in out.directions]).mean(0), settings, out.forwarded,
                       extra={"identity_strategy": out.strategy, "mean_angular": mean_base,
                              "judged": settings.placements > 0})
