"""``Sim2Word``, the toolkit's main explainer, as an :class:`~s2w_toolkit.interfaces.Explainer`.

Options (keywords, or ``-o KEY=VALUE`` / dedicated flags on ``s2w explain``; declared by
:class:`Sim2WordOptions`, listed by ``s2w plugins sim2word``): ``strategy`` (``topk`` or
``threshold``), ``top_k``, ``prob_threshold``, ``erase_threshold``, ``fill`` (``black``,
``mean``, ``noise``, ``blur``), ``dilate``, ``seed``, ``batch_size``, ``ablation``
(``no-attributes``, ``no-counterfactual``), ``rank_by``, ``placements`` (K random placements
of each attribute's mask inside the face box, erased with the same fill as controls; default
8, 0 is the official algorithm), and ``attributes`` / ``attribute_weights`` when no attribute
model is passed in.

The explanation's ``maps`` are the counterfactual maps H_d; ``extra_maps`` hold the identity
and counter-identity maps and the joint maps of the five top-ranked attributes of each side;
``words`` are the ranked attribute words of both directions, scored 1 - arccos(s_j)/pi;
``metadata`` holds every attribute's s_j, eligibility and erased fraction, and its
``control_s``: the K cosines of its placements (the attribute's s_j K times when its mask is
empty).

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> e = Sim2Word(attributes="age-gender").explain(pair, net)
    >>> e.metadata["case"], sorted(e.extra_maps)[:2], e.words[0].details["side"] in ("a", "b")
    ('non-mate', ['counter-identity', 'identity'], True)
    >>> len(e.metadata["directions"][0]["attributes"][0]["control_s"])
    8
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..explanation import Explanation, Word
from ..interfaces import AttributeModel, Explainer, Pair
from ..options import build_options
from .core import Settings, Sim2WordResult, angular, run_sim2word

TOP = 5


@dataclass(frozen=True)
class Sim2WordOptions(Settings):
    """Sim2Word's options: the algorithm's :class:`Settings` and the attribute model to load
    when none is passed in.

    Example:
        >>> Sim2WordOptions(attributes=("age-gender",)).settings()
        Settings(batch_size=64, seed=0, strategy='topk', top_k=1, prob_threshold=0.4, erase_threshold=0.6, ...)
    """

    attributes: tuple[str, ...] = field(default=(), metadata={
        "help": "attribute models when none is passed in (default: age-gender,face-parts; also --attributes)"})
    attribute_weights: str | None = field(default=None, metadata={
        "help": "attribute checkpoint: PATH or NAME=PATH[,NAME=PATH] (also --attribute-weights)"})

    def settings(self) -> Settings:
        """The algorithm's part of the options."""
        return Settings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Settings)})


def settings_from_options(options: Mapping[str, Any]) -> Settings:
    """:class:`Settings` from Sim2Word's options (strings from the CLI are converted); an
    unknown key or a bad value raises :class:`~s2w_toolkit.errors.OptionError`.

    >>> settings_from_options({"top-k": "2", "ablation": "none"}).top_k
    2
    """
    return build_options(Sim2Word, options).settings()


class Sim2Word(Explainer):
    """Counterfactual attribute words for a pair's similarity (Chen et al., TOMM 2022).

    Example:
        >>> Sim2Word(fill="blur", top_k="2").settings.top_k
        2
    """

    name = "sim2word"
    uses_attributes = True
    #: The maps are the counterfactual maps H_d: where the target is unlike the other face.
    evidence = "dissimilarity"
    Options = Sim2WordOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = self.options.settings()

    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        if attributes is None:
            from ..attributes.composite import load_attributes

            attributes = load_attributes(self.options.attributes or None, self.options.attribute_weights,
                                         device=str(backbone.device))
        result = run_sim2word(backbone, pair, attributes, self.settings)
        return to_explanation(result, backbone.threshold, getattr(attributes, "name", ""))

    def render(self, explanation: Explanation, face_a: Any, face_b: Any, path: str | Path) -> str:
        from .figure import render_sim2word

        return render_sim2word(explanation, face_a, face_b, path)


def _label(row: dict, side: str) -> str:
    if row["word"] == row["attribute"]:  # a yes/no attribute: "the pointy nose"
        return f"the {row['word'].lower()} (face {side})"
    return f"{row['word'].lower()} ({row['attribute'].lower()}, face {side})"


def to_explanation(result: Sim2WordResult, threshold: float, attribute_model: str = "") -> Explanation:
    """The plain-data :class:`Explanation` of a Sim2Word result."""
    mate = result.similarity >= threshold
    by_u = result.settings.rank_by == "uncertainty"
    key, descending = ("delta_u", True) if by_u else ("s", not mate)
    ranked = sorted(((d.target, r) for d in result.directions for r in d.ranked()),
                    key=lambda item: item[1][key], reverse=descending)
    words = [Word(text=r["word"], score=r["angular"],
                  details={"side": side, "attribute": r["attribute"], "cosine": r["s"], "delta": r["delta"],
                           "valid": r["valid"], "erased_fraction": r["erased_fraction"],
                           **({"u": r["u"], "delta_u": r["delta_u"]} if by_u else {})})
             for side, r in ranked]
    extra = {"identity": {d.target: d.identity for d in result.directions},
             "counter-identity": {d.target: d.counter for d in result.directions}}
    top_rows = {d.target: d.ranked(descending, key)[:TOP] for d in result.directions}
    joint_index = {d.target: {r["attribute"]: j for j, r in enumerate(d.rows)} for d in result.directions}
    top_names = {}
    for rank in range(TOP):
        maps, names = {}, {}
        for d in result.directions:
            rows = top_rows[d.target]
            if rank < len(rows):
                maps[d.target] = d.joint[joint_index[d.target][rows[rank]["attribute"]]]
                names[d.target] = rows[rank]["word"]
            else:
                maps[d.target], names[d.target] = d.joint[0] * 0, ""
        extra[f"joint #{rank + 1}"] = maps
        top_names[f"joint #{rank + 1}"] = names
    caption = _caption(result.similarity, threshold, mate, ranked, by_u)
    ranking = "ascending s_j: the shared evidence" if mate else "descending s_j: the distinguishing attributes"
    metadata = {
        "case": "mate" if mate else "non-mate",
        "ranking": "descending rise of the uncertainty u when erased" if by_u else ranking,
        "angular_score": angular(result.similarity),
        "caption": caption,
        "attribute_model": attribute_model,
        "identity_strategy": result.identity_strategy,
        "identity_classes": result.extra.get("classes", []),
        "degenerate": result.degenerate,
        "degenerate_note": ("the two faces share their identity (top class or embedding direction), so H_f equals "
                            "H_t and the counterfactual map says little") if result.degenerate else "",
        "settings": dataclasses.asdict(result.settings),
        "forward_images": result.forward_images,
        "joint_map_words": top_names,
        "top_valid": {d.target: bool(d.ranked()[0]["valid"]) if d.ranked() else None for d in result.directions},
        "validity": None if mate else sum(bool(d.ranked() and d.ranked()[0]["valid"]) for d in result.directions) / 2,
        "directions": [{"target": d.target, "counter": "b" if d.target == "a" else "a",
                        "distinguishing": [r["attribute"] for r in d.ranked()],
                        "shared_evidence": [r["attribute"] for r in d.ranked(descending=False)],
                        "attributes": d.rows} for d in result.directions],
    }
    return Explanation(score=result.similarity, maps={d.target: d.counterfactual for d in result.directions},
                       explainer=Sim2Word.name, words=words, extra_maps=extra, threshold=threshold,
                       metadata=metadata)


def _caption(similarity: float, threshold: float, mate: bool, ranked: list, by_u: bool = False) -> str:
    verdict = "the same person" if mate else "different people"
    head = f"Cosine {similarity:.3f} (score {angular(similarity):.3f}): {verdict} at threshold {threshold:.3f}"
    if not ranked:
        return head + "; no eligible attribute to explain it."
    side, row = ranked[0]
    if by_u:
        return f"{head}; erasing {_label(row, side)} raises the uncertainty most (by {row['delta_u']:+.4f})."
    what = "the strongest shared attribute" if mate else "the most characteristic attribute"
    return f"{head}; {what} is {_label(row, side)}."
