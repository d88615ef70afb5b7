"""Group mode: the most characteristic attributes of one probe face against many others.

The probe is paired with one image of each other identity (the gallery). For every gallery
face g, the counterfactual map of the probe against g is built and each of the probe's
attributes is erased in it; the score is 1 - arccos(s_gj)/pi with s_gj = cos(f(erase_j probe),
f(g)). Scores are averaged over the gallery per attribute and the probe's eligible
attributes are ranked by that average (Sim2Word, section "the most characteristic attributes
of a group"). One backward pass gives all identity maps; every erased image of every gallery
face goes through the backbone as one batch (or chunks).

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.attributes.composite import load_attributes
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> faces = [load_face(demo_image(n), net)[0] for n in ("obama", "biden", "obama2")]
    >>> result = run_group(net, faces[0], faces[1:], load_attributes("age-gender"))
    >>> len(result.gallery_scores), [r["attribute"] for r in result.rows]
    (2, ['Gender', 'Age'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..backbone import Backbone
from ..interfaces import AttributeModel
from .core import Settings, angular, attribute_masks
from .erase import fill_images, imputed_sources
from .identity import counterfactual_map, identity_cams
from .rescore import score_masks


@dataclass
class GroupResult:
    """Per-attribute averages over the gallery, ranked, and the maps behind them."""

    rows: list[dict]
    gallery_scores: list[float]  # the probe's plain similarity to each gallery face
    identity: torch.Tensor  # the probe's own identity map (H, W)
    counterfactual: torch.Tensor  # H_d averaged over the gallery (H, W)
    joint: torch.Tensor  # joint maps averaged over the gallery (A, H, W)
    settings: Settings
    forward_images: int
    extra: dict = field(default_factory=dict)

    def ranked(self) -> list[dict]:
        """Eligible attributes by their mean score over the gallery, highest first."""
        return sorted((r for r in self.rows if r["eligible"]), key=lambda r: r["mean_angular"], reverse=True)


def run_group(backbone: Backbone, probe: np.ndarray, gallery: list[np.ndarray], attributes: AttributeModel,
              settings: Settings = Settings()) -> GroupResult:
    """Group mode for an aligned ``probe`` face and aligned ``gallery`` faces (RGB uint8)."""
    if not gallery:
        raise ValueError("group mode needs at least one gallery face")
    device = backbone.device
    x_probe = backbone.preprocess(probe).to(device)
    with torch.no_grad():
        x_gallery = backbone.preprocess(np.stack(gallery)).to(device)
        others = torch.cat([backbone(x_gallery[i:i + settings.batch_size])
                            for i in range(0, len(gallery), settings.batch_size)])
    contrastive = settings.counterfactual == "contrastive"
    maps, embedding, _, used, contrast = identity_cams(backbone, x_probe, others, settings.strategy, settings.top_k,
                                                       settings.prob_threshold, contrastive)
    count = len(gallery)
    h_d = contrast[0, 1:] if contrastive else counterfactual_map(maps[0, :1].expand(count, -1, -1), maps[0, 1:])
    prediction = attributes.predict(probe[None], backbone.template)
    attr_maps = prediction.maps.to(device)
    joint = attr_maps if settings.ablation == "no-counterfactual" else h_d[:, None] * attr_maps
    masks = attribute_masks(joint, attr_maps.expand(count, -1, -1, -1), settings)
    fills, impute = None, None
    if settings.fill == "road":
        def impute(i: int, chosen: torch.Tensor) -> torch.Tensor:
            return imputed_sources(backbone, probe, chosen, settings.seed, x_probe)
    else:
        fills = backbone.preprocess(fill_images(probe[None], settings.fill, settings.seed)).to(device)
        fills = fills.expand(count, -1, -1, -1)
    units = F.normalize(others, dim=1)
    baseline = (F.normalize(embedding, dim=1) * units).sum(dim=1)
    scored = score_masks(backbone, x_probe.expand(count, -1, -1, -1), fills, masks, units, baseline,
                         settings.batch_size, impute=impute)
    base = [angular(float(s)) for s in baseline]
    mean_base = sum(base) / count
    rows = []
    for j, name in enumerate(prediction.names):
        per_face = [angular(float(s)) for s in scored.cosine[:, j]]
        mean = sum(per_face) / count
        rows.append({"attribute": name, "word": prediction.words[0][j], "model": prediction.models[j],
                     "eligible": bool(prediction.eligible[0, j]), "present": bool(prediction.present[0, j]),
                     "mean_angular": mean, "mean_cosine": math.cos(math.pi * (1 - mean)),
                     "delta": mean - mean_base, "per_gallery": per_face,
                     "erased_fraction": float(masks[:, j].float().mean())})
    return GroupResult(rows, [float(s) for s in baseline], maps[0, 0].cpu(), h_d.mean(0).cpu(),
                       joint.mean(0).cpu(), settings, scored.forwarded,
                       extra={"identity_strategy": used, "mean_angular": mean_base})
