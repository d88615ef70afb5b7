"""The benchmark's own metrics, registered through ``s2w_register_metrics`` like any plugin's.

* ``deletion`` (faithfulness): deletion (MoRF) and insertion (= LeRF) AUCs of the cosine
  with pixels removed by ``--fill`` (ROAD imputation by default), and the scattered-pixel
  order's AUCs as a per-pair control.
* ``replacement`` (faithfulness): the xSSAB protocol, pixels of the target copied from the
  other face; the mean cosine over the percentages, and FMR / FNMR per pair type.
* ``auc-drop`` (faithfulness): Sim2Word's AUC drop and the same drop with every attribute mask
  moved to random places in the face, for explainers whose results carry attribute erasures.
* ``sanity`` (randomisation, optional: ``--sanity``): agreement of the maps with those of a
  backbone whose layers are re-initialised from the output down (Adebayo et al., 2018).
* ``verification`` (verification): ROC, DET, EER and error rates of the backbone on the pairs.
* ``cost`` (cost): seconds (after a warm-up run) and images through the backbone per pair.

Example:
    >>> DeletionInsertion().describe()["scores"]["deletion_auc"]["better"]
    {'similarity': 'lower', 'dissimilarity': 'higher'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable


from . import metrics
from .batching import Pending
from .metric import Job, Metric, Score

PERCENTS = (1, 5, 10, 25, 50)
#: The pair types, in the order every summary reports them.
PAIR_TYPES = ("mate", "non-mate", "unlabelled")


def pair_type(row: Mapping[str, Any]) -> str:
    """``"mate"``, ``"non-mate"`` or ``"unlabelled"`` (a pair list without labels).

    >>> pair_type({"same": True}), pair_type({"same": 0}), pair_type({"same": None})
    ('mate', 'non-mate', 'unlabelled')
    """
    same = row.get("same")
    return "unlabelled" if same is None else ("mate" if same else "non-mate")


def _sides(job: Job):
    """(side, target x, target face, other x, other face, other's unit embedding) for a and b."""
    pair, units = job.pair, job.units
    return (("a", pair.a, pair.image_a, pair.b, pair.image_b, units[1:]),
            ("b", pair.b, pair.image_b, pair.a, pair.image_a, units[:1]))


def _both_sides(job: Job, kind: str, plan: Callable[..., Pending], shared: tuple[str, ...],
                then: Callable[[dict], dict] = lambda result: result) -> Pending:
    """One :class:`Pending` for sides a and b. The first explainer of a pair also scores the
    values ``shared`` by every explainer (they do not depend on the map) and keeps them in
    ``job.cache``; later ones reuse them, which holds because pending values finish in order."""
    plans, kept = [], []
    for side, *args in _sides(job):
        holder = job.cache.get((kind, side))
        plans.append(plan(side, *args, holder is None))
        kept.append((side, holder))
    for i, (side, holder) in enumerate(kept):  # both sides planned: later explainers take the values from here
        if holder is None:
            kept[i] = (side, job.cache.setdefault((kind, side), {}), True)
        else:
            kept[i] = (side, holder, False)
    requests, finishes = [p.requests[0] for p in plans], [p.finish for p in plans]

    def finish(scores: list[list[float]]) -> dict:
        out = {}
        for (side, holder, first), planned, scored in zip(kept, finishes, scores):
            result = planned([scored])
            if first:
                holder.update({k: result.pop(k) for k in shared})
            if not holder:
                raise RuntimeError(f"the {kind} values shared by this pair's explainers were not scored")
            out[side] = then({**result, **holder})
        return out

    return Pending(requests, finish)


class DeletionInsertion(Metric):
    """Deletion and insertion curves (Petsiuk et al., RISE, 2018) with ROAD removal.

    Example:
        >>> [s.name for s in DeletionInsertion.scores][:2]
        ['deletion_auc', 'insertion_auc']
    """

    name = "deletion"
    description = ("cosine to the other face while the most relevant pixels are removed (deletion, MoRF) or the "
                   "least relevant ones (insertion read from the end, LeRF); area under the curve")
    category = "faithfulness"
    source = ("Petsiuk et al., RISE (BMVC 2018); removal by noisy linear imputation from Rong et al., ROAD "
              "(ICML 2022)")
    scores = (
        Score("deletion_auc", "del", "AUC of the cosine, most relevant pixels removed first", better="lower"),
        Score("insertion_auc", "ins", "AUC of the cosine, most relevant pixels kept first", better="higher"),
        Score("scattered_deletion_auc", "scat del", "deletion AUC in a seeded scattered-pixel order (control)",
              better="lower", judged=False),
        Score("scattered_insertion_auc", "scat ins", "insertion AUC in a seeded scattered-pixel order (control)",
              better="higher", judged=False),
    )

    def measure(self, job: Job) -> Pending:
        run = job.run

        def plan(side, x, face, other_x, other_face, counter, first):
            return metrics.plan_deletion_insertion(job.backbone, x, face, counter, job.explanation.maps[side],
                                                   steps=run["steps"], fill=run["fill"], seed=run["seed"],
                                                   orders=("saliency", "scattered") if first else ("saliency",))

        return _both_sides(job, "scattered", plan, ("scattered_deletion_auc", "scattered_insertion_auc"))

    def summarise(self, rows: list[dict]) -> dict:
        """Mean curves per pair type."""
        curves: dict[str, dict[str, list]] = {}
        for row in rows:
            for side in row["metrics"][self.name].values():
                kind = curves.setdefault(pair_type(row), {"deletion": [], "insertion": []})
                kind["deletion"].append(side["deletion_curve"])
                kind["insertion"].append(side["insertion_curve"])
        return {"curves": {t: {k: _mean_curve(v) for k, v in c.items()} for t, c in curves.items()}}


def _mean_curve(curves: list[list[float]]) -> list[float]:
    length = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(length)]


class Replacement(Metric):
    """xSSAB pixel replacement (Huber et al., WACV 2024): target pixels copied from the other face.

    Example:
        >>> Replacement().describe()["scores"]["replacement_best"]["better"]["dissimilarity"]
        'higher'
    """

    name = "replacement"
    description = ("cosine after the p% most relevant ('best'), least relevant ('worst') or random pixels of the "
                   "target are copied from the other face, mean over p = 1, 5, 10, 25, 50; FMR/FNMR there")
    category = "faithfulness"
    source = "Huber et al., xSSAB (WACV 2024)"
    scores = (
        Score("replacement_best", "repl", "mean cosine after replacing the most relevant pixels", better="lower"),
        Score("replacement_worst", "repl worst", "mean cosine after replacing the least relevant pixels",
              better="higher"),
        Score("replacement_random", "repl rand", "mean cosine after replacing random pixels (control)",
              better="none", judged=False),
    )

    def measure(self, job: Job) -> Pending:
        run = job.run

        def plan(side, x, face, other_x, other_face, counter, first):
            return metrics.plan_pixel_replacement(job.backbone, x, face, other_x, other_face, counter,
                                                  job.explanation.maps[side], percents=PERCENTS, seed=run["seed"],
                                                  original=first,
                                                  strategies=("best_worst", "random") if first else ("best_worst",))

        def summary(result: dict) -> dict:
            for strategy in ("best", "worst", "random"):
                values = list(result[strategy].values())
                result[f"replacement_{strategy}"] = sum(values) / len(values)
            return result

        return _both_sides(job, "replacement", plan, ("original", "random"), summary)

    def summarise(self, rows: list[dict]) -> dict:
        """FNMR (mates) or FMR (non-mates) at the backbone's threshold after replacement, per
        pair type, strategy and p."""
        out: dict[str, dict] = {}
        for kind in sorted({pair_type(r) for r in rows} - {"unlabelled"}):
            group = [r for r in rows if pair_type(r) == kind]
            threshold, rate = group[0]["threshold"], "fnmr" if kind == "mate" else "fmr"
            out[kind] = {}
            for strategy in ("best", "worst", "random"):
                per_p: dict[str, list] = {}
                for row in group:
                    for side in row["metrics"][self.name].values():
                        for p, score in side.get(strategy, {}).items():
                            per_p.setdefault(str(p), []).append(score)
                out[kind][strategy] = {p: {rate: _rate(v, kind == "mate", threshold)} for p, v in per_p.items()}
        return {"rates": out}


def _rate(scores: list[float], mates: bool, threshold: float) -> float:
    """FNMR of mate scores, or FMR of non-mate scores, at ``threshold`` (:func:`metrics.fmr_fnmr`)."""
    fmr, fnmr = metrics.fmr_fnmr(scores, [mates] * len(scores), threshold)
    return fnmr if mates else fmr


class AucDrop(Metric):
    """Sim2Word's AUC drop with its random-placement control (Chen et al., TOMM 2022).

    Example:
        >>> AucDrop().category
        'faithfulness'
    """

    name = "auc-drop"
    description = ("verification AUC before minus after erasing the best attribute of every non-mate direction, "
                   "beside the same drop with each attribute mask placed at random in the face")
    category = "faithfulness"
    source = "Chen et al., Sim2Word (ACM TOMM 2022)"

    def measure(self, job: Job) -> dict | None:
        directions = job.explanation.metadata.get("directions")
        if not directions or not all("attributes" in d for d in directions):
            return None
        from .auc_drop import record_from_explanation

        return record_from_explanation(job.explanation)

    def summarise(self, rows: list[dict]) -> dict | None:
        from .auc_drop import auc_drop, auc_drop_control

        records = [{"same": r["same"], "similarity": r["similarity"], **r["metrics"][self.name]} for r in rows
                   if r.get("same") is not None]
        if not records:
            return None
        return {"drop": auc_drop(records), "control": auc_drop_control(records)}


class Sanity(Metric):
    """Model-parameter randomisation (Adebayo et al., NeurIPS 2018), cascading from the output.

    Example:
        >>> Sanity(levels=2, pairs=4).settings()
        {'levels': 2, 'pairs': 4}
    """

    name = "sanity"
    description = ("Spearman rank correlation (absolute) and SSIM between each map and the map of the same pair "
                   "under a backbone whose top layers are re-initialised; high agreement after every layer is "
                   "randomised means the map does not depend on the model")
    category = "randomisation"
    source = "Adebayo et al., Sanity Checks for Saliency Maps (NeurIPS 2018)"
    default = False
    scores = (
        Score("spearman_full", "rank corr", "|Spearman| against the fully randomised model's map", better="lower",
              flips=False, judged=False),
        Score("ssim_full", "ssim", "SSIM against the fully randomised model's map", better="lower", flips=False,
              judged=False),
    )

    def __init__(self, levels: int = 4, pairs: int = 20) -> None:
        self.levels, self.pairs = levels, pairs
        self.keys: set[str] = set()
        self.copies: list | None = None

    def settings(self) -> dict[str, Any]:
        return {"levels": self.levels, "pairs": self.pairs}

    def prepare(self, pairs: list, backbone: Any) -> None:
        """Check a balanced subset: the first mates and non-mates of the list, half each."""
        mates = [p.key for p in pairs if p.same]
        others = [p.key for p in pairs if not p.same]
        take = min(len(mates), math.ceil(self.pairs / 2))
        rest = self.pairs - take
        chosen = mates[:take] + others[:rest]
        chosen += mates[take:take + self.pairs - len(chosen)]
        self.keys, self.copies = set(chosen), None

    def measure(self, job: Job) -> dict | None:
        if job.spec.key not in self.keys:
            return None
        from .sanity import cascade, sanity_values

        if self.copies is None:
            self.copies = cascade(job.backbone, levels=self.levels, seed=job.run["seed"])
        return sanity_values(job.explain, job.explanation, self.copies)

    def side_values(self, value: Any) -> dict[str, dict[str, float]]:
        full = value["levels"][-1]
        return {side: {"spearman_full": abs(full[side]["spearman"]), "ssim_full": full[side]["ssim"]}
                for side in ("a", "b")}

    def summarise(self, rows: list[dict]) -> dict | None:
        from .sanity import summarise_sanity

        return summarise_sanity([r["metrics"][self.name] for r in rows], seed=rows[0]["settings"]["seed"])


class Verification(Metric):
    """The backbone's verification quality on the pair list: ROC, DET, EER, TPR at FMR, error rates.

    Example:
        >>> Verification().category
        'verification'
    """

    name = "verification"
    description = "ROC-AUC, EER, TPR at FMR 1e-1/1e-2/1e-3 and FMR/FNMR at the threshold, one score per pair"
    category = "verification"
    source = "ISO/IEC 19795-1 error rates"

    def summarise_run(self, rows: list[dict]) -> dict | None:
        from .verification import verification_summary

        scores: dict[str, tuple[float, bool]] = {}
        for row in rows:
            if "error" not in row and row.get("same") is not None:
                scores.setdefault(row["key"], (row["similarity"], bool(row["same"])))
        if not scores:
            return None
        keys = sorted(scores)
        threshold = next(r["threshold"] for r in rows if "error" not in r)
        out = verification_summary([scores[k][0] for k in keys], [scores[k][1] for k in keys], threshold)
        out["pair_scores"] = [[k, *scores[k]] for k in keys]  # key, cosine, same: for the ROC plot and audits
        return out


class Cost(Metric):
    """What an explanation costs: seconds (after one untimed warm-up run per explainer) and images.

    Example:
        >>> [s.name for s in Cost.scores]
        ['seconds', 'forward_passes']
    """

    name = "cost"
    description = "seconds per explanation, after a warm-up run, and images through the backbone per explanation"
    category = "cost"
    scores = (Score("seconds", "sec", "seconds per explanation", better="lower", flips=False, judged=False),
              Score("forward_passes", "fwd", "images through the backbone per explanation", better="lower",
                    flips=False, judged=False))

    def measure(self, job: Job) -> dict:
        return {"both": dict(job.timing)}
