"""``Sim2WordExplainer``, the toolkit's main explainer, as an :class:`~s2w_toolkit.interfaces.Explainer`.

Options (keywords, or ``-o KEY=VALUE`` / dedicated flags on ``s2w explain``; declared by
:class:`Sim2WordOptions`, listed by ``s2w plugins sim2word``): those of
:class:`~s2w_toolkit.sim2word.core.Settings` (``strategy``, ``top_k``, ``prob_threshold``,
``erase_threshold``, ``fill``, ``dilate``, ``seed``, ``batch_size``, ``ablation``,
``rank_by``, ``placements``, ``support_level``), and ``attributes`` / ``attribute_weights``
when no attribute model is passed in.

The explanation's ``maps`` are the counterfactual maps H_d; ``extra_maps`` hold the identity
and counter-identity maps and the joint maps of the five top-ranked attributes of each side;
``words`` are the *supported* words of both directions (each beats its random placements and
the selection-matched controls, :mod:`~s2w_toolkit.sim2word.support`), best first, scored
1 - arccos(s_j)/pi; under the official settings (``placements=0, rank_by=similarity``) every
eligible word, ranked by s_j. ``metadata`` holds every attribute's s_j, eligibility, erased
fraction, ``control_s`` (the K cosines of its placements; empty when it is not eligible),
excess, p-values and whether it is supported, and per direction the selection-matched controls.

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> e = Sim2WordExplainer(attributes="age-gender").explain(pair, net)
    >>> e.metadata["case"], sorted(k for k in e.extra_maps if "identity" in k), all(w.details["supported"] for w in e.words)
    ('non-mate', ['counter-identity', 'identity'], True)
    >>> row = e.metadata["directions"][0]["attributes"][0]
    >>> 2 <= len(row["control_s"]) <= 19, "p_value" in row   # placements drawn until the decision is sure
    (True, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..explainers.explanation import Explanation, Word
from ..interfaces import AttributeModel, Explainer, Pair
from ..options import build_options
from .core import Settings, Sim2WordResult, angular, run_sim2word
from .rankings import RANKINGS

TOP = 5
#: Words of each ranking whose joint maps the explanation keeps (the figure shows them).
SHOWN = 3


@dataclass(frozen=True)
class Sim2WordOptions(Settings):
    """Sim2Word's options: the algorithm's :class:`Settings` and the attribute model to load
    when none is passed in.

    Example:
        >>> Sim2WordOptions(attributes=("age-gender",)).settings()
        Settings(batch_size=64, seed=0, strategy='topk', top_k=1, prob_threshold=0.4, counterfactual='integrated', ...)
    """

    attributes: tuple[str, ...] = field(default=(), metadata={
        "help": "attribute models when none is passed in (default: mediapipe,faceres,face-geometry,face-areas; also --attributes)"})
    attribute_weights: str | None = field(default=None, metadata={
        "help": "attribute checkpoint: PATH or NAME=PATH[,NAME=PATH] (also --attribute-weights)"})
    identity_model: str | None = field(default=None, metadata={
        "help": "a registered backbone whose Grad-CAMs make the identity maps (default: the explained backbone; "
                "also --identity-model)"})
    identity_weights: str | None = field(default=None, metadata={
        "help": "checkpoint of the identity model (also --identity-weights)"})

    def settings(self) -> Settings:
        """The algorithm's part of the options."""
        return Settings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Settings)})


def settings_from_options(options: Mapping[str, Any]) -> Settings:
    """:class:`Settings` from Sim2Word's options (strings from the CLI are converted); an
    unknown key or a bad value raises :class:`~s2w_toolkit.errors.OptionError`.

    >>> settings_from_options({"top-k": "2", "ablation": "none"}).top_k
    2
    """
    return build_options(Sim2WordExplainer, options).settings()


class Sim2WordExplainer(Explainer):
    """Counterfactual attribute words for a pair's similarity (Chen et al., TOMM 2022).

    Example:
        >>> Sim2WordExplainer(fill="blur", top_k="2").settings.top_k
        2
    """

    name = "sim2word"
    uses_attributes = True
    #: The maps are the counterfactual maps H_d: where the target is unlike the other face.
    evidence = "dissimilarity"
    Options = Sim2WordOptions
    #: Quick runs for tests: four placements (no word can reach p <= 0.1, but every step runs) and
    #: the photo alone (no perturbed copies): about a tenth of the default's erased images.
    fast_options = {"placements": 4, "stability": 0}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.settings = self.options.settings()
        self._identity: Any = None

    def identity_model(self, backbone: Any) -> Any:
        """The identity model of the options, loaded once on ``backbone``'s device (None: the
        backbone itself makes the identity maps)."""
        if self.options.identity_model is None:
            if self.options.identity_weights is not None:
                from ..errors import OptionError

                raise OptionError("identity_weights needs identity_model (the registered backbone it is for)")
            return None
        if self._identity is None:
            from ..pipeline import load_backbone

            self._identity = load_backbone(self.options.identity_model, weights=self.options.identity_weights,
                                           device=str(backbone.device))
        return self._identity

    def explain(self, pair: Pair, backbone: Any, attributes: AttributeModel | None = None) -> Explanation:
        if attributes is None:
            from ..attributes.composite import load_attributes

            attributes = load_attributes(self.options.attributes or None, self.options.attribute_weights,
                                         device=str(backbone.device))
        identity = self.identity_model(backbone)
        result = run_sim2word(backbone, pair, attributes, self.settings, identity=identity)
        explanation = to_explanation(result, attribute_model=getattr(attributes, "name", ""))
        explanation.metadata["identity_model"] = backbone.name if identity is None else identity.name
        return explanation

    @classmethod
    def words_table(cls, explanation: Explanation) -> Any:
        """Each ranked word with its face, attribute, cosine, change, erased share and controls."""
        from .tables import words_table

        return words_table(explanation)

    def figure(self, explanation: Explanation, face_a: Any, face_b: Any) -> Any:
        """The Sim2Word figure (:func:`~s2w_toolkit.sim2word.figure.sim2word_figure`)."""
        from .figure import sim2word_figure

        return sim2word_figure(explanation, face_a, face_b)

    def details_figure(self, explanation: Explanation, face_a: Any, face_b: Any) -> Any:
        """Every map (H_t, H_f, H_d, the joint maps) and the erasures against their controls
        (:func:`~s2w_toolkit.sim2word.figure_details.details_figure`)."""
        from .figure_details import details_figure

        return details_figure(explanation, face_a, face_b)


def _label(row: dict, side: str) -> str:
    if row["word"] == row["attribute"]:  # a yes/no attribute: "the pointy nose"
        return f"the {row['word'].lower()} (face {side})"
    return f"{row['word'].lower()} ({row['attribute'].lower()}, face {side})"


_JUDGED = ("excess", "control_mean", "control_std", "statistic", "z", "p_value", "p_selection", "supported",
           "agreement", "copies", "pooled_excess")


def _word(side: str, row: dict, by_u: bool) -> Word:
    details = {"side": side, "attribute": row["attribute"], "cosine": row["s"], "delta": row["delta"],
               "valid": row["valid"], "erased_fraction": row["erased_fraction"],
               **{k: row[k] for k in _JUDGED if k in row},
               **({"u": row["u"], "delta_u": row["delta_u"]} if by_u else {})}
    return Word(text=row["word"], score=row["angular"], details=details)


def _ranking(result: Sim2WordResult, mate: bool) -> str:
    settings = result.settings
    if settings.rank_by == "uncertainty":
        what = "the rise of the uncertainty u when erased"
        return f"descending excess of {what} over its random placements" if settings.placements else \
            f"descending {what}"
    if settings.rank_by == "excess":
        change = "fall" if mate else "rise"
        return f"descending {change} of s_j below/above the mean of the same region placed at random (excess)"
    return "ascending s_j: the shared evidence" if mate else "descending s_j: the distinguishing attributes"


def to_explanation(result: Sim2WordResult, threshold: float | None = None, attribute_model: str = "") -> Explanation:
    """The plain-data :class:`Explanation` of a Sim2Word result. Its ``words`` are the
    supported words of both directions (every eligible one under the official settings), best
    first; ``threshold`` defaults to the one the result was computed with."""
    threshold = result.threshold if threshold is None else float(threshold)
    mate = result.similarity >= threshold
    by_u = result.settings.rank_by == "uncertainty"
    judged = result.settings.placements > 0
    order = [(d.target, r) for d in result.directions for r in d.words()]

    def rank_key(item):
        d = result.directions[0]
        r = item[1]
        return d.sign * (r["excess"] if d.by_excess else r[d.key])

    ranked = sorted(order, key=rank_key, reverse=True)
    words = [_word(side, r, by_u) for side, r in ranked]
    extra = {"identity": {d.target: d.identity for d in result.directions},
             "counter-identity": {d.target: d.counter for d in result.directions}}
    top_rows = {d.target: d.ranked()[:TOP] for d in result.directions}
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
    caption = _caption(result, threshold, mate, ranked, by_u)
    rankings = _rankings(result) if not by_u else {}
    for name, ranked_words in rankings.items():  # the joint map of each ranking's first words, for the figure
        for k, w in enumerate(ranked_words[:SHOWN], start=1):
            joint = result.directions[0 if w.details["side"] == result.directions[0].target else 1]
            region = joint.joint[joint_index[joint.target][w.details["attribute"]]]
            extra[f"{name} #{k}"] = {"a": region, "b": region}  # one template: the same place on both faces
    if judged and rankings:
        caption += " " + _other_sentence(result, mate, rankings)
    metadata = {
        "case": "mate" if mate else "non-mate",
        "ranking": _ranking(result, mate),
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
        "support": {"placements": result.settings.placements, "level": result.settings.support_level,
                    "value": "uncertainty u" if by_u else "cosine s_j",
                    "stability": result.settings.stability if judged else 0,
                    "pooled_over": 1 + len(result.extra.get("perturbations", [])),
                    "perturbations": result.extra.get("perturbations", [])} if judged else None,
        "top_valid": {d.target: bool(d.ranked()[0]["valid"]) if d.ranked() else None for d in result.directions},
        "named": sum(bool(d.words()) for d in result.directions),
        "validity": _validity(result, mate, judged),
        "directions": [_direction(d, judged) for d in result.directions],
        "rankings": {name: [dataclasses.asdict(w) for w in words] for name, words in rankings.items()},
        "lead_ranking": "shared" if mate else "distinguishing",
    }
    return Explanation(score=result.similarity, maps={d.target: d.counterfactual for d in result.directions},
                       explainer=Sim2WordExplainer.name, words=words, extra_maps=extra, threshold=threshold,
                       metadata=metadata)


def _rankings(result: Sim2WordResult) -> dict[str, list[Word]]:
    """Both rankings' words over both directions, best first; each word's details carry that
    ranking's p-values and ``supported``."""
    out = {}
    for name, sign in RANKINGS.items():
        rows = [(d.target, r) for d in result.directions for r in d.words(name)]
        rows.sort(key=lambda item: sign * (item[1].get("excess", item[1]["s"])), reverse=True)
        words = []
        for side, row in rows:
            word = _word(side, row, False)
            word.details.update({**row.get("rankings", {}).get(name, {}), "ranking": name})
            words.append(word)
        out[name] = words
    return out


def _other_sentence(result: Sim2WordResult, mate: bool, rankings: dict[str, list[Word]]) -> str:
    """The caption's second sentence: the ranking that does not fit the verdict."""
    name = "distinguishing" if mate else "shared"
    words = rankings[name]
    if not words:
        return (f"No attribute is {'distinguishing' if mate else 'shared'} beyond a region of the same size "
                f"(erasing none {'raises' if mate else 'lowers'} the cosine more than its random placements).")
    w = words[0]
    d = w.details
    move = ("raises" if name == "distinguishing" else "lowers") + (
        " on both faces" if result.settings.erases_both else "")
    label = _label({"word": w.text, "attribute": d["attribute"]}, d["side"])
    return (f"{'Distinguishing' if mate else 'Shared'} nonetheless: {label}, whose erasing {move} "
            f"the cosine by {abs(d['delta']):.4f} (p = {d['p_value']:.2f}; {d['p_selection']:.2f} against the "
            "selection-matched control).")


def _validity(result: Sim2WordResult, mate: bool, judged: bool) -> float | None:
    """With controls: the fraction of directions whose named word (supported by the pooled test)
    beats the selection-matched controls (more than half of them). Official: the
    fraction of non-mate directions whose top word raises the similarity (None for a mate)."""
    if judged:
        rates = [d.named_win_rate() for d in result.directions]
        return sum(rate is not None and rate > 0.5 for rate in rates) / len(result.directions)
    if mate:
        return None
    return sum(bool(d.ranked() and d.ranked()[0]["valid"]) for d in result.directions) / len(result.directions)


def _direction(d, judged: bool) -> dict:
    eligible = [r for r in d.rows if r["eligible"]]
    out = {"target": d.target, "counter": "b" if d.target == "a" else "a",
           "ranked": [r["attribute"] for r in d.ranked()],
           "distinguishing": [r["attribute"] for r in sorted(eligible, key=lambda r: r["s"], reverse=True)],
           "shared_evidence": [r["attribute"] for r in sorted(eligible, key=lambda r: r["s"])],
           "attributes": d.rows}
    if judged:
        win = d.named_win_rate()
        named = d.words()
        out.update({"supported": d.summary["supported"], "top_supported": d.summary["top"],
                    "named": named[0]["attribute"] if named else None,
                    "selection_control": d.summary["selection"], "selection_win_rate": win,
                    "beats_selection": None if win is None else win > 0.5,
                    "selection_rule": "max-t" if "selection_z" in d.summary else "raw"})
        if "selection_z" in d.summary:
            out["selection_control_z"] = d.summary["selection_z"]
    return out


def _caption(result: Sim2WordResult, threshold: float, mate: bool, ranked: list, by_u: bool = False) -> str:
    similarity = result.similarity
    verdict = "the same person" if mate else "different people"
    head = f"Cosine {similarity:.3f} (score {angular(similarity):.3f}): {verdict} at threshold {threshold:.3f}"
    judged = result.settings.placements > 0
    if not ranked:
        if judged and any(r["eligible"] for d in result.directions for r in d.rows):
            level = result.settings.support_level
            return (f"{head}; no attribute explains this pair better than a region of the same size (no word beats "
                    f"its random placements at p <= {level:g}).")
        return head + "; no eligible attribute to explain it."
    side, row = ranked[0]
    if by_u:
        tail = f" ({row['excess']:+.4f} above its random placements)" if judged else ""
        return f"{head}; erasing {_label(row, side)} raises the uncertainty most (by {row['delta_u']:+.4f}){tail}."
    what = "the strongest shared attribute" if mate else "the most characteristic attribute"
    if not judged:
        return f"{head}; {what} is {_label(row, side)}."
    move = "lowers" if mate else "raises"
    stable = ""
    if "agreement" in row:
        stable = (f"; pooled over the photo and {row['copies'] - 1} perturbed copies, it tops "
                  f"{round(row['agreement'] * row['copies'])} of them")
    against = ("the best of every attribute's placements, each in units of its own" if "z" in row
               else "the best of every attribute's placements")
    where = " on both faces" if result.settings.erases_both else ""
    return (f"{head}; {what} is {_label(row, side)}: erasing it{where} {move} the cosine by {abs(row['delta']):.4f}, "
            f"{abs(row['excess']):.4f} more than the same region placed at random (p = {row['p_value']:.2f}; "
            f"{row['p_selection']:.2f} against {against}{stable}).")
