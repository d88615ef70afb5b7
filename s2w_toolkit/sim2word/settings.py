"""Sim2Word's settings: every knob of the algorithm, its defaults, and the paper's values.

Example:
    >>> Settings().placements, Settings.official().placements
    (19, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..options import BaseOptions
from ..fills import FILLS
from .counterfactual import COUNTERFACTUALS
from .support import LEVEL, SELECTION_RULES

#: Default number of random placements per eligible mask (see docs/sim2word.md for the choice).
PLACEMENTS = 19
#: Default number of perturbed copies whose evidence is pooled with the photo's.
STABILITY = 4
#: With ``dilate`` None, masks grow by this share of the image width (6 px on a 150-px face).
DILATE_SHARE = 0.04
#: Default largest share of a word's own region that a control placement may cover.
CONTROL_OVERLAP = 0.5
#: Default fraction of each attribute's region erased with ``mask_rule="region"``.
MASK_FRACTION = 1.0

ABLATIONS = (None, "no-attributes", "no-counterfactual")
#: ``excess``: by the excess over the word's own controls; ``similarity``: by s_j (official);
#: ``uncertainty``: by how much erasing raises an evidential backbone's uncertainty u.
RANK_BY = ("excess", "similarity", "uncertainty")


@dataclass(frozen=True)
class Settings(BaseOptions):
    """Every knob of the algorithm. The defaults add controls to the official algorithm and rank
    and select words by them; :meth:`official` gives the paper's settings. ``seed`` seeds the
    ``noise`` fill and the placements, ``batch_size`` counts erased images per forward pass.

    Example:
        >>> Settings().rank_by, Settings.official().placements, Settings.official().mask_rule
        ('excess', 0, 'absolute')
    """

    strategy: Literal["topk", "threshold"] = field(default="topk", metadata={
        "help": "identity from the top-k classes, or threshold (cumulative probability)"})
    top_k: int = field(default=1, metadata={"help": "classes per identity with topk", "min": 1})
    prob_threshold: float = field(default=0.4, metadata={"help": "cumulative probability with threshold"})
    counterfactual: Literal["integrated", "occlusion", "gradient", "contrastive", "fine", "layers", "official"] = field(
        default="integrated", metadata={
            "help": "H_d, where T is like itself and not like F: integrated = integrated gradients of "
                    "<f(T), e_T - e_F> from the fill; occlusion = its drop under erased squares; gradient; "
                    "contrastive = its Grad-CAM; "
                    "fine = its Grad-CAM at a finer layer; layers = both; official = minmax(H_t (max H_f - H_f))"})
    mask_rule: Literal["region", "absolute"] = field(default="region", metadata={
        "help": "region: erase the top mask_fraction of each attribute's region by J_j; absolute: J_j > "
                "erase_threshold (official)"})
    mask_fraction: float = field(default=MASK_FRACTION, metadata={
        "help": "with mask_rule=region, the fraction of the attribute's region erased", "min": 0.0, "max": 1.0})
    erase_threshold: float = field(default=0.6, metadata={"help": "with mask_rule=absolute, J_j above it is erased"})
    fill: Literal["black", "mean", "noise", "blur", "road"] = field(default="blur", metadata={
        "help": "what erased pixels become: blur (the least leakage measured), black (official), mean, noise, "
                "road (ROAD's imputation from the neighbours)"})
    erase: Literal["target", "both"] | None = field(default=None, metadata={
        "help": "target: erase the region on the target face (the paper); both: on both faces, so that s_j is "
                "cos(f(T erased), f(F erased)) (the faces are aligned to one template); none: both, except with "
                "fill=road, rank_by=uncertainty and in group mode (target)"})
    dilate: int | None = field(default=None, metadata={
        "help": "grow each mask (and its controls) by this many pixels; none: by DILATE_SHARE (4%) of the face "
                "width, 6 px on a 150-px face, so that erasing a part also erases its outline", "min": 0})
    ablation: Literal["no-attributes", "no-counterfactual"] | None = field(default=None, metadata={
        "help": "no-attributes: erase the thresholded H_d alone; no-counterfactual: erase each A_j alone"})
    rank_by: Literal["excess", "similarity", "uncertainty"] = field(default="excess", metadata={
        "help": "excess over the word's controls; similarity: s_j (official); uncertainty: rise of an "
                "evidential backbone's uncertainty"})
    placements: int = field(default=PLACEMENTS, metadata={
        "help": "random placements of each eligible mask inside the face box, erased as controls (0: official)",
        "min": 0})
    control_overlap: float = field(default=CONTROL_OVERLAP, metadata={
        "help": "the largest share of a word's region that one of its control placements may cover (1: any "
                "placement; a control that mostly erases the word's own region is not a region elsewhere)",
        "min": 0.0, "max": 1.0})
    stability: int = field(default=STABILITY, metadata={
        "help": "pool each word's evidence over the photo and this many perturbed copies (JPEG q90, 2 px "
                "shifts of the photo); 0: the photo alone", "min": 0})
    selection: Literal["raw", "max-t", "scaled"] = field(default="scaled", metadata={
        "help": "the selection-matched control: raw = the best raw value over every word's k-th placement; "
                "max-t = the best z-score of each word against its own controls (Westfall-Young max-T); "
                "scaled = max-T with each word's change in units of the typical change of a mask of its size"})
    sequential: bool = field(default=True, metadata={
        "help": "draw the placements in rounds and stop a word once it cannot be supported (Besag-Clifford); "
                "the decisions are those of the full draw"})
    support_level: float = field(default=LEVEL, metadata={
        "help": "a word is supported when its rank p-values against its own and the selection-matched "
                "controls are at most this", "min": 0.0, "max": 1.0})

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"unknown fill {self.fill!r}; use one of {FILLS}")
        if self.ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {self.ablation!r}; use one of {ABLATIONS[1:]}")
        if self.counterfactual not in COUNTERFACTUALS:
            raise ValueError(f"unknown counterfactual {self.counterfactual!r}; use one of {tuple(COUNTERFACTUALS)}")
        if self.mask_rule not in ("region", "absolute"):
            raise ValueError(f"unknown mask_rule {self.mask_rule!r}; use region or absolute")
        if self.erase not in ("target", "both", None):
            raise ValueError(f"unknown erase {self.erase!r}; use target or both")
        if self.erase == "both" and (self.fill == "road" or self.rank_by == "uncertainty"):
            raise ValueError("erase=both works with the fills black, mean, noise and blur, and rank_by excess or "
                             "similarity; add erase=target")
        if self.selection not in SELECTION_RULES:
            raise ValueError(f"unknown selection {self.selection!r}; use one of {SELECTION_RULES}")
        if self.rank_by not in RANK_BY:
            raise ValueError(f"unknown rank_by {self.rank_by!r}; use one of {RANK_BY}")
        if self.batch_size < 1 or self.top_k < 1:
            raise ValueError("batch_size and top_k must be at least 1")
        if self.placements < 0:
            raise ValueError("placements must be at least 0")
        if self.rank_by == "excess" and self.placements == 0:
            raise ValueError("rank_by=excess needs placements >= 1 (the official algorithm is placements=0 "
                             "rank_by=similarity)")

    @property
    def erases_both(self) -> bool:
        """Whether each mask is erased on both faces (``erase``; None: where the fill and the
        ranking allow it).

        >>> Settings().erases_both, Settings(fill="road").erases_both, Settings.official().erases_both
        (True, False, False)
        """
        if self.erase is not None:
            return self.erase == "both"
        return self.fill != "road" and self.rank_by != "uncertainty"

    def dilation(self, width: int) -> int:
        """The pixels each mask grows by on an image ``width`` pixels wide.

        >>> Settings().dilation(150), Settings(dilate=2).dilation(150), Settings.official().dilation(150)
        (6, 2, 0)
        """
        return int(round(DILATE_SHARE * width)) if self.dilate is None else int(self.dilate)

    @classmethod
    def official(cls, **changes: Any) -> "Settings":
        """The paper's algorithm: no controls, words ranked by s_j; ``changes`` override fields."""
        return cls(**{"placements": 0, "rank_by": "similarity", "mask_rule": "absolute", "fill": "black",
                      "counterfactual": "official", "stability": 0, "dilate": 0,
                      "erase": "target", **changes})
