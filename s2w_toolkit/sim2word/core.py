"""The Sim2Word algorithm on one pair, both directions, erased images in one batch.

For the target T and the counter face F (T = a, F = b, then T = b, F = a):

1. identity maps H_t (T's own identity on T) and H_f (F's identity on T), :mod:`.identity`;
2. counterfactual map H_d, where T looks like itself and not like F
   (:mod:`~s2w_toolkit.sim2word.counterfactual`): with ``counterfactual="integrated"`` (the
   default) the integrated gradients of ``<f(T), e_T - e_F>`` (with an identification head, of
   T's classes' mean logit minus F's) from the fill to T, smoothed; ``"contrastive"`` its
   Grad-CAM; ``"official"`` minmax(H_t * (max(H_f) - H_f)), which without a head behaves like
   H_t (1 - H_t) because H_t and H_f are nearly the same map;
3. attribute maps A_j of T from the attribute model; joint maps J_j = H_d * A_j (renormalised
   per map with the ``threshold`` identity strategy, as the official code does);
4. erase T with the ``fill`` where the mask of J_j lies, and re-score s_j = cos(f(erased_j(T)),
   f(F)). ``mask_rule="region"`` (the default) erases the ``mask_fraction`` of each attribute's
   region (A_j at least half its maximum) where J_j is highest, so that every attribute with a
   map has a mask of a stated size; ``"absolute"`` (official) erases J_j > ``erase_threshold``.
   Either is grown by ``settings.dilation(width)`` px (4% of the face by default).
   (``ablation="no-attributes"`` always uses the threshold);
5. eligible attributes: every category one, a yes/no one when present;
6. controls (``placements`` = K > 0, not in the official code): for every eligible mask, K
   random placements inside the template's face box
   (:mod:`~s2w_toolkit.sim2word.placements`: with ``mask_rule="region"`` the attribute's region
   moved and cut there as the word's mask was; each placement covers at most
   ``control_overlap`` of the word's own region), erased with the same fill and scored in the
   same batch; each row's ``control_s`` holds the K cosines. A placement that covers more of
   another word's region is left out of that word's selection-matched control. Each word is
   then judged against its own controls and the selection-matched ones
   (:mod:`~s2w_toolkit.sim2word.support`): ``excess``, ``p_value``, ``p_selection``,
   ``supported``. With both faces erased (``settings.erases_both``, the default) every mask
   (and control) is erased on the counter face as well, and s_j = cos(f(T erased), f(F erased));
7. pooled evidence (``stability`` = K > 0, with controls): the pair is explained again on K
   perturbed copies (JPEG q90, 2 px shifts of the photos), in the same batches, each copy's
   controls placed at the same fractions of the allowed offsets as the photo's; each word is then
   judged by one test over the photo and its copies (its statistic averaged over them,
   :func:`~s2w_toolkit.sim2word.support.judge_runs`), and ``agreement`` says in how many of them
   it tops the ranking (reported, not a gate);
8. ranking (the case is the pair's: mate when the similarity reaches ``threshold``, by default
   the backbone's): ``rank_by="excess"`` (the default) by the excess over the controls,
   ``"similarity"`` by s_j (the official ranking: descending for a non-mate, ascending for a
   mate), ``"uncertainty"`` by the rise of an evidential backbone's uncertainty.
   :meth:`Settings.official` gives the paper's algorithm (no controls, s_j ranking, absolute
   threshold, black fill, the official H_d).

Ablations: ``ablation="no-attributes"`` erases the thresholded H_d alone (one image per
direction); ``ablation="no-counterfactual"`` erases each A_j alone (J_j = A_j).

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.attributes.composite import load_attributes
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> result = run_sim2word(net, pair, load_attributes("age-gender"))
    >>> [d.target for d in result.directions], len(result.directions[0].rows)
    (['a', 'b'], 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..cam import normalise_maps
from ..backbones.base import Backbone
from ..interfaces import AttributeModel, Pair
from ..fills import fill_inputs, imputed_inputs
from .erase import erase_masks, region_masks
from .counterfactual import contrast_maps
from .identity import counterfactual_map, identity_cams
from .identity_model import identity_model_maps
from .placements import control_placements, covered_words, face_region, placement_covers
from .rescore import PlacementScorer, score_masks
from .settings import ABLATIONS, MASK_FRACTION, PLACEMENTS, RANK_BY, STABILITY, Settings
from .support import stop_after
from .rankings import RANKINGS, judge_rankings
from .rows import angular, attribute_rows
from .sequential import draw_controls, pooled_values

__all__ = ["ABLATIONS", "MASK_FRACTION", "PLACEMENTS", "RANK_BY", "STABILITY", "Direction", "Directions", "Settings",
           "Sim2WordResult", "angular", "attribute_masks", "explain_directions", "ranking_order", "run_sim2word"]

@dataclass
class Direction:
    """One direction of the explanation: T is ``target``, F the other side. Rows are ranked by
    ``sign * row[key]`` (``by_excess`` False) or ``sign * row["excess"]``, highest first;
    ``summary`` is :func:`~s2w_toolkit.sim2word.rankings.judge_rankings`'s.

    Example:
        >>> import torch
        >>> maps = torch.zeros(4, 4)
        >>> rows = [{"word": "Smiling", "s": 0.9, "eligible": True}, {"word": "Senior", "s": 0.5, "eligible": True}]
        >>> d = Direction("a", maps, maps, maps, torch.zeros(2, 4, 4), rows=rows, sign=-1)
        >>> [r["word"] for r in d.ranked()]   # a mate pair: the word whose erasing lowers s most first
        ['Senior', 'Smiling']
    """

    target: str
    identity: torch.Tensor  # H_t (H, W)
    counter: torch.Tensor  # H_f
    counterfactual: torch.Tensor  # H_d
    joint: torch.Tensor  # J (A, H, W)
    rows: list[dict] = field(default_factory=list)
    masks: torch.Tensor | None = None  # the erased pixels of each attribute, bool (A, H, W)
    key: str = "s"
    sign: int = 1
    by_excess: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    def ranked(self) -> list[dict]:
        """Eligible rows, best first by the direction's ranking."""
        eligible = [r for r in self.rows if r["eligible"]]
        if self.by_excess:
            return sorted(eligible, key=lambda r: (self.sign * r.get("excess", -math.inf), self.sign * r[self.key]),
                          reverse=True)
        return sorted(eligible, key=lambda r: self.sign * r[self.key], reverse=True)

    def words(self, ranking: str | None = None) -> list[dict]:
        """The rows a caption may name: the supported ones with controls, every eligible one
        without (the official algorithm), in ranking order. ``ranking`` None is the direction's
        own (the lead); ``"distinguishing"`` or ``"shared"`` picks one of the two rankings
        (:mod:`~s2w_toolkit.sim2word.rankings`)."""
        if ranking is None:
            ranked = self.ranked()
            return [r for r in ranked if r.get("supported")] if self.summary.get("judged") else ranked
        sign = RANKINGS[ranking]
        eligible = [r for r in self.rows if r["eligible"]]
        if not self.summary.get("judged"):
            return sorted(eligible, key=lambda r: sign * r["s"], reverse=True)
        supported = [r for r in eligible if r.get("rankings", {}).get(ranking, {}).get("supported")]
        return sorted(supported, key=lambda r: sign * r["excess"], reverse=True)

    def named_win_rate(self) -> float | None:
        """The fraction of the selection-matched controls that the named (top shown) word beats;
        None when the direction names no word or has no controls."""
        words, best = self.words(), self.summary.get("selection_statistic") or []
        if not words or not best or not self.summary.get("judged"):
            return None
        return float(np.mean(float(words[0]["statistic"]) > np.asarray(best)))


@dataclass
class Sim2WordResult:
    """Both directions of a pair, with the original similarity and how it was computed.

    Example:
        >>> result = Sim2WordResult(similarity=0.7, directions=[], settings=Settings(),
        ...                         identity_strategy="embedding", degenerate=False, forward_images=12, threshold=0.5)
        >>> result.mate
        True
    """

    similarity: float
    directions: list[Direction]
    settings: Settings
    identity_strategy: str
    degenerate: bool
    forward_images: int
    threshold: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mate(self) -> bool:
        """Whether the pair is called the same person at ``threshold``."""
        return self.similarity >= self.threshold


def attribute_masks(joint: torch.Tensor, attribute_maps: torch.Tensor, settings: Settings) -> torch.Tensor:
    """The pixels to erase for each joint map ``(N, A, H, W)``, by ``settings.mask_rule``
    (``ablation="no-attributes"`` always thresholds)."""
    if settings.mask_rule == "region" and settings.ablation != "no-attributes":
        return region_masks(joint, attribute_maps, settings.mask_fraction, settings.dilation(joint.shape[-1]))
    return erase_masks(joint, settings.erase_threshold, settings.dilation(joint.shape[-1]))


def ranking_order(settings: Settings, mate: bool) -> tuple[str, int, bool]:
    """``(key, sign, by_excess)`` of a direction's ranking (see the module docs).

    >>> ranking_order(Settings(), mate=True), ranking_order(Settings.official(), mate=False)
    (('s', -1, True), ('s', 1, False))
    """
    if settings.rank_by == "uncertainty":
        return ("u", 1, True) if settings.placements > 0 else ("delta_u", 1, False)
    return "s", -1 if mate else 1, settings.rank_by == "excess"


@dataclass
class Directions:
    """What :func:`explain_directions` computes: one :class:`Direction` per (target, counter)
    pair, each target's embedding and identity-map details, and the images forwarded.

    Example:
        >>> import torch
        >>> found = Directions(directions=[], similarities=[0.3], embeddings=torch.zeros(2, 8),
        ...                    strategy="embedding", classes=[], forwarded=2)
        >>> found.similarities, tuple(found.embeddings.shape)
        ([0.3], (2, 8))
    """

    directions: list[Direction]
    similarities: list[float]
    embeddings: torch.Tensor
    strategy: str
    classes: list
    forwarded: int


def explain_directions(backbone: Backbone, x: torch.Tensor, faces: np.ndarray, attributes: AttributeModel,
                       settings: Settings, threshold: float, others: torch.Tensor | None = None,
                       pairs: list[tuple[int, int]] | None = None,
                       names: list[str] | None = None, identity: Backbone | None = None,
                       identity_others: torch.Tensor | None = None,
                       groups: list[int] | None = None) -> Directions:
    """The Sim2Word pipeline for any set of directions, one core for pair and group mode.

    ``x`` ``(n, 3, H, W)`` are the preprocessed targets, ``faces`` their aligned RGB images;
    ``others`` ``(m, D)`` raw embeddings of further counter faces; ``pairs`` the directions as
    ``(target i, counter k)``, k indexing ``x``'s faces then ``others`` (default: every ordered
    pair of ``x``'s faces); ``names`` the directions' targets' labels. ``identity``, another
    backbone, makes the identity maps instead of the explained one (the faces are warped to its
    template and the maps back, :mod:`~s2w_toolkit.sim2word.identity_model`; ``identity_others``
    are then the further faces' embeddings by it). ``groups[d]`` is the direction whose test
    direction d's values pool into (default: itself): a perturbed copy names its photo's
    direction, draws no placements of its own and is not judged. Every erased image of every
    direction, and every control, goes through the backbone in the same chunks (the controls in
    rounds, :mod:`~s2w_toolkit.sim2word.sequential`)."""
    x = x.detach()
    n = len(x)
    pairs = pairs if pairs is not None else [(i, k) for i in range(n) for k in range(n) if i != k]
    names = names if names is not None else [str(i) for i, _ in pairs]
    method = settings.counterfactual
    contrastive = method == "contrastive"
    if identity is None or identity is backbone:
        maps, embeddings, classes, strategy, contrast = identity_cams(
            backbone, x, others, settings.strategy, settings.top_k, settings.prob_threshold, contrastive,
            settings.batch_size)
    else:
        maps, embeddings, classes, strategy, contrast = identity_model_maps(
            backbone, identity, x, faces, identity_others, settings, contrastive)
    every = embeddings if others is None else torch.cat([embeddings, others.detach().to(embeddings)])
    units = F.normalize(every, dim=1)
    targets = torch.tensor([i for i, _ in pairs], device=x.device)
    counters = torch.tensor([k for _, k in pairs], device=x.device)
    similarity = (units[targets] * units[counters]).sum(dim=1)
    own, other = maps[targets, targets], maps[targets, counters]
    fills = fill_inputs(backbone, faces, "blur" if settings.fill == "road" else settings.fill, settings.seed, x)
    if method in ("contrastive", "official"):
        h_d = contrast[targets, counters] if contrastive else counterfactual_map(own, other)
    else:  # by the explained backbone, also where a separate identity model makes H_t and H_f
        h_d = contrast_maps(backbone, method, x, fills, pairs, every, classes if identity is None else (),
                            settings.batch_size)
    prediction = attributes.predict(faces, backbone.template)
    attr_maps = prediction.maps.to(x.device)[targets]
    if settings.ablation == "no-attributes":
        joint = h_d[:, None]
        eligible = torch.ones((len(pairs), 1), dtype=torch.bool)
    else:
        joint = attr_maps if settings.ablation == "no-counterfactual" else h_d[:, None] * attr_maps
        if settings.ablation is None and settings.strategy == "threshold":
            joint = normalise_maps(joint)
        eligible = torch.as_tensor(prediction.eligible).bool()[targets.cpu()]
    masks = attribute_masks(joint, attr_maps, settings)
    impute = None
    if settings.fill == "road":
        fills = None

        def impute(d: int, chosen: torch.Tensor) -> torch.Tensor:
            return imputed_inputs(backbone, faces[pairs[d][0]], chosen, settings.seed, x)
    else:
        every_fill, fills = fills, fills[targets]
    both = None
    if settings.erases_both:  # the counter face erased with the same mask
        if int(counters.max()) >= n:
            raise ValueError("erase=both needs the counter face's image; these counters are embeddings only")
        both = (x[counters], every_fill[counters])
    baseline_u = None
    if settings.rank_by == "uncertainty":
        baseline_u = backbone.uncertainty_from_embedding(embeddings).detach()[targets]
    k = settings.placements
    groups = list(range(len(pairs))) if groups is None else list(groups)
    controlled = [d for d, g in enumerate(groups) if g == d]  # copies (g != d) pool into their photo's test
    scored = score_masks(backbone, x[targets], fills, masks, units[counters], similarity.detach(),
                         settings.batch_size, baseline_u, impute, both)
    by_u = settings.rank_by == "uncertainty"
    values = scored.uncertainty if by_u else scored.cosine
    words = [prediction.words[i] if settings.ablation != "no-attributes" else ["H_d"] for i, _ in pairs]
    pooled = pooled_values(values, baseline_u if by_u else similarity, eligible, words, groups, controlled)
    rows_c = torch.tensor(controlled, dtype=torch.long, device=x.device)
    region = face_region(backbone.template, tuple(x.shape[2:]))
    chosen = masks[rows_c] & eligible.to(masks.device)[rows_c][:, :, None, None]
    placed = control_placements(chosen, h_d[rows_c], attr_maps[rows_c], region, k, settings)
    sub = None if impute is None else (lambda r, m: impute(controlled[r], m))
    scorer = PlacementScorer(backbone, x[targets[rows_c]], None if fills is None else fills[rows_c], masks[rows_c],
                             units[counters[rows_c]], similarity[rows_c].detach(), settings.batch_size,
                             None if baseline_u is None else baseline_u[rows_c], sub, scored, rows_c.cpu(), by_u,
                             None if both is None else (both[0][rows_c], both[1][rows_c]))
    stop = stop_after(k, settings.support_level) if settings.sequential and not by_u else 0
    signs = [(1,) if by_u else (1, -1)] * len(controlled)
    controls, drawn = draw_controls(scorer, placed, pooled, eligible[rows_c.cpu()].cpu(), signs, stop)
    if by_u:  # stop = 0: one call scored every placement, and its cosines are the controls' cosines
        assert stop == 0
    control_s = scorer.cosine.reshape(controls.shape) if by_u and scorer.cosine is not None else controls
    fractions = masks.flatten(2).float().mean(dim=2).cpu()
    covers = placement_covers(placed, chosen, settings.control_overlap).cpu() \
        if settings.control_overlap < 1.0 and settings.ablation != "no-attributes" and k > 0 else None
    all_rows = []
    for d, (i, _) in enumerate(pairs):
        rows = attribute_rows(prediction, i, scored.cosine[d], fractions[d], float(similarity[d]), settings.ablation)
        c = controlled.index(d) if d in controlled else None
        for j, row in enumerate(rows):
            n = 0 if c is None or not row["eligible"] else int(drawn[c, j])
            row["control_s"] = control_s[c, j, :n].tolist() if n else []
            if by_u:
                row["u"] = float(scored.uncertainty[d, j])
                row["delta_u"] = row["u"] - float(baseline_u[d])
                row["control_u"] = controls[c, j, :n].tolist() if n else []
        all_rows.append(rows)
    directions = []
    for d, rows in enumerate(all_rows):
        s = float(similarity[d])
        key, sign, by_excess = ranking_order(settings, s >= threshold)
        summary: dict[str, Any] = {"judged": False}
        if d in controlled and k > 0:
            copies = [all_rows[e] for e, g in enumerate(groups) if g == d and e != d]
            value_key = "u" if key in ("u", "delta_u") else key
            summary = {**judge_rankings(rows, sign, settings.support_level, value_key,
                                        "control_u" if value_key == "u" else "control_s", settings.selection,
                                        copies=copies, placements=k,
                                        covers=covered_words(covers, controlled.index(d), rows)),
                       "judged": True}
        directions.append(Direction(names[d], own[d].cpu(), other[d].cpu(), h_d[d].cpu(), joint[d].cpu(), rows,
                                    masks=masks[d].cpu(), key=key, sign=sign, by_excess=by_excess, summary=summary))
    return Directions(directions, similarity.tolist(), embeddings, strategy, classes,
                      scored.forwarded + scorer.forwarded)


def run_sim2word(backbone: Backbone, pair: Pair, attributes: AttributeModel,
                 settings: Settings = Settings(), threshold: float | None = None,
                 identity: Backbone | None = None) -> Sim2WordResult:
    """Sim2Word on ``pair`` in both directions; see the module docs. ``threshold`` (default the
    backbone's) decides whether the pair is a mate, which sets the expected sign of the words;
    ``identity`` is a separate identity model for the identity maps (default: the backbone)."""
    threshold = float(backbone.threshold if threshold is None else threshold)
    x = torch.cat([pair.a, pair.b])
    faces = np.stack([pair.image_a, pair.image_b])
    runs = 1
    perturbations = []
    if settings.stability > 0 and settings.placements > 0:
        from .stability import perturbed_pairs

        perturbations = perturbed_pairs(pair, backbone, settings.stability, settings.seed)
        extra = np.concatenate([p[1] for p in perturbations])
        x = torch.cat([x, backbone.preprocess(extra).to(x.device, x.dtype)])
        faces = np.concatenate([faces, extra])
        runs += len(perturbations)
    pairs = [(2 * r + i, 2 * r + 1 - i) for r in range(runs) for i in (0, 1)]
    out = explain_directions(backbone, x, faces, attributes, settings, threshold, pairs=pairs,
                             names=["a", "b"] * runs, identity=identity, groups=[0, 1] * runs)
    directions = out.directions[:2]
    extra_info = {"classes": out.classes[:2]}
    if perturbations:
        extra_info["perturbations"] = [{"name": name, "from": how, "similarity": out.similarities[2 * r]}
                                       for r, (name, _, how) in enumerate(perturbations, start=1)]
    if out.classes:
        degenerate = out.classes[0][0] == out.classes[1][0]
    else:
        degenerate = out.similarities[0] > 0.9999
    return Sim2WordResult(out.similarities[0], directions, settings, out.strategy, degenerate, out.forwarded,
                          threshold=threshold, extra=extra_info)
