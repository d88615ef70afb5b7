"""``face-parts``: rough attribute words from dlib's 68 landmarks and pixel colours, no training.

Every word here is a hand-written heuristic: a length ratio of landmarks, or how dark (or how
grainy) a landmark-drawn region is compared with the cheeks and forehead of the same face. No
model was trained. The thresholds (:data:`THRESHOLDS`) were set by hand, then recalibrated on
the 22 hand-labelled faces of faces-dev: labelled words from the labels, shape words to
CelebA's attribute rates. Expect mistakes on turned faces, unusual lighting, glasses, hats, or
crops that show little hair. What the model gives that a classifier does not is a plain,
checkable value and threshold per word and an evidence map that is exactly the region that was
measured (see :mod:`~s2w_toolkit.attributes.face_regions`).

Confidence. A binary word's confidence is the probability ``sigmoid(direction * (value -
threshold) / spread)`` that it is present; it is present when that exceeds 0.5. A category is
a chain of such splits: the first rule's probability goes to its word, the rest of the
probability passes to the next rule, and what is left after the last goes to the remaining
word (Face Shape: Oval, else Square, else Round; Hair Color: Black, else Gray, else Blond,
else Brown). The word with the highest probability wins and that probability is its
confidence. A value that cannot be measured or trusted is NaN and the rule abstains: its region
lies outside the image; the face is too dark (:data:`MIN_SKIN_LIGHTNESS`); the hair band is
mostly skin (hidden hair, a bald head) or a mixture of hair and background (see
:func:`hair_measures`). A binary word is then absent with confidence 0.5; a category says
"<column>: unsure" with confidence 1 / (number of words), and is not present, so Sim2Word
does not rank it.

Example:
    >>> from s2w_toolkit import load_backbone, load_face
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> face, _ = load_face(demo_image("obama"), net)
    >>> p = FaceParts().predict(face, net.template)
    >>> p.a, tuple(p.maps.shape), p.names[:3]
    (13, (1, 13, 150, 150), ['Big Nose', 'Pointy Nose', 'Big Lips'])
    >>> row = {r["attribute"]: r for r in p.rows(0)}
    >>> row["Smiling"]["present"], row["Mouth Closed"]["present"], row["Face Shape"]["word"]
    (True, False, 'Oval Face')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
from skimage.color import rgb2lab
from skimage.filters import gaussian

from ..faces.aligned_landmarks import aligned_landmarks, default_template
from ..interfaces import AttributeModel
from .face_regions import EDGE_BLUR, FaceFrame, binary_masks, soften
from .prediction import AttributePrediction
from .word_regions import declare


@dataclass(frozen=True)
class Rule:
    """One threshold: ``column`` (the attribute) says ``word`` when ``measure`` lies beyond
    ``threshold`` in ``direction`` (+1: above, -1: below); ``spread`` sets how fast the
    confidence goes from 0.5 to 1 (a logistic of ``(value - threshold) / spread``); ``region``
    names the region(s) whose mask is the evidence map; ``note`` says how it was chosen. In a
    category's chain, ``otherwise`` on the last rule names the word left when no rule says yes.

    Example:
        >>> rule = Rule("Smiling", "smile", 0.0, 0.03, +1, ("mouth_corners",), "mouth-corner lift")
        >>> round(rule.probability(0.03), 3), round(rule.probability(-0.03), 3), rule.probability(float("nan"))
        (0.731, 0.269, nan)
        >>> decide({"smile": 0.06}, [rule])["Smiling"]["present"]
        True
    """

    column: str
    measure: str
    threshold: float
    spread: float
    direction: int
    region: tuple[str, ...]
    note: str
    word: str = ""
    otherwise: str = ""

    def probability(self, value: float) -> float:
        """Probability that this rule says yes: ``sigmoid(direction * (value - threshold) / spread)``."""
        if not math.isfinite(value):
            return math.nan
        z = self.direction * (value - self.threshold) / self.spread
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


# Demo values quoted below are obama / obama2 / obama3 / biden, aligned to dlib's 150 px chip.
# Lengths are in inter-ocular distances (IOD, between the eye centres).
#: Every threshold of the model, in one place: see each ``note``. Recalibrated on 2026-12-02 on
#: the 22 hand-labelled faces of faces-dev: labelled words (facial hair, smiling, mouth) from the
#: labels with round values and a margin on both sides; unlabelled shape words so that they are
#: present on faces-dev about as often as on CelebA (its published attribute rates). Still rough:
#: 22 faces of six people.
THRESHOLDS: tuple[Rule, ...] = (
    Rule("Big Nose", "nose_size", 0.67, 0.02, +1, ("nose_wings",),
         "sqrt(nose base width 31-35 x nose length 27-33) / IOD. Typical adult proportions (nostril width "
         "about 0.5 IOD, nasion to nose base about 0.8 IOD) give ~0.65. At CelebA's rate (23%) on faces-dev: "
         "its 77th percentile is 0.66 (range 0.51-0.70)."),
    Rule("Pointy Nose", "nose_pointiness", 1.30, 0.05, +1, ("nose_ridge",),
         "bridge-to-tip length 27-30 / nose base width 31-35: a long narrow nose reads as pointed. At "
         "CelebA's rate (28%) on faces-dev: its 72nd percentile is 1.29 (range 0.84-1.44); the old 1.20 "
         "called half of all faces pointy."),
    Rule("Big Lips", "lip_thickness", 0.27, 0.02, +1, ("lips",),
         "upper + lower lip thickness (outer to inner lip, 3 columns each) / IOD. Average lips are about "
         "18 mm against a 63 mm IOD (~0.29); smiles thin the lips. At CelebA's rate (24%) on faces-dev: its "
         "76th percentile is 0.27 (range 0.14-0.32)."),
    Rule("Narrow Eyes", "eye_aspect", 0.21, 0.02, -1, ("eyes",),
         "eye aspect ratio (mean lid opening 37-41, 38-40 / eye width 36-39, both eyes): ~0.25-0.30 for "
         "open eyes in dlib's points, below 0.2 in a blink. At CelebA's rate (12%) on faces-dev: its 12th "
         "percentile is 0.21 (range 0.12-0.44)."),
    Rule("Arched Eyebrows", "brow_arch", 0.23, 0.01, +1, ("brow_arch",),
         "highest of brow points 18-20 above the chord 17-21 / chord length, both brows. Flat brows "
         "~0.1-0.15. At CelebA's rate (27%) on faces-dev: its 73rd percentile is 0.23 (range 0.13-0.25)."),
    Rule("Bushy Eyebrows", "brow_thickness", 0.10, 0.005, +1, ("eyebrows",),
         "count of brow-band pixels darker than 0.8 x the skin's L* / (brow chord lengths x IOD): the dark "
         "brow's mean thickness in IOD. At CelebA's rate (14%) on faces-dev: its 86th percentile is 0.099 "
         "(range 0.04-0.11); the old 0.066 called 80% of faces bushy."),
    Rule("Smiling", "smile", 0.0, 0.03, +1, ("mouth_corners",),
         "mouth-corner lift (lip centre line minus corners 48, 54, along the face's vertical) / IOD + "
         "0.5 x (mouth width 48-54 / IOD - 0.95): 0 is level corners at a neutral width. Demos 0.24 (broad "
         "smile)/0.02/-0.07/-0.04; on faces-dev, smiles 0.0-0.27 (closed-mouth smiles -0.04), others -0.14-0.02."),
    Rule("Mouth Closed", "mouth_gap", 0.035, 0.01, -1, ("mouth_gap",),
         "mean inner-lip gap 61-67, 62-66, 63-65 / IOD. Closed lips give 0.00-0.025 in dlib's points; "
         "faces-dev's slightly parted lips 0.036-0.054, open mouths 0.08-0.32."),
    Rule("Beard", "beard", 0.21, 0.03, +1, ("jaw",),
         "lower-face darkening (mean of jaw and upper-lip darkening, each 1 - region L* / skin L*) times a "
         "texture weight, clip((lower-face grain - 1) / 0.5, 0, 1): a beard is hair, so it is dark and "
         "grainy; shading is dark but smooth. Recalibrated on faces-dev (2026-12-02): its six bearded faces "
         "score 0.26-0.55, its clean-shaven ones at most 0.17 (smooth shading under Biden's lip: 0)."),
    Rule("Mustache", "lip_darkening", 0.35, 0.05, +1, ("upper_lip",),
         "1 - median L* between nose and upper lip / median L* of cheeks+forehead. Clean-shaven demos "
         "0.15/0.05/0.17/0.24; same reasoning as Beard."),
    Rule("5 o'Clock Shadow", "lower_face_grain", 2.0, 0.15, +1, ("jaw", "upper_lip"),
         "fine grain (mean |L* - L* blurred with sigma 0.03 IOD|) of chin/jaw + upper lip (lips excluded, so "
         "lipstick's edge does not count) / that of the cheeks: stubble adds grain. faces-dev: clean-shaven "
         "faces up to 1.5 (Obama's lip shadow), the stubbled one 2.5; weak at 150 px."),
    Rule("Face Shape", "face_ratio", 1.08, 0.04, -1, ("jawline",),
         "face width 0-16 / eyebrow-to-chin height. A face 1.5x as long as wide, with the brow at one "
         "third, gives 1.0; shorter faces are round or square. Demos 1.03/0.99/1.05/1.01: all oval.",
         word="Oval Face"),
    Rule("Face Shape", "jaw_angle", 135.0, 5.0, -1, ("jawline",),
         "mean angle (degrees) at jaw points 4 and 12 between 1-4-7 and 15-12-9: evenly curved "
         "jaws give ~142 (points evenly spaced on an arc), an angular jaw less. Demos 149/152/139/143.",
         word="Square Face", otherwise="Round Face"),
    Rule("Hair Color", "hair_lightness", 40.0, 6.0, -1, ("hair",),
         "median L* of the hair band's non-skin pixels (delta E > 15 from the skin's median). Black hair "
         "photographs at L* ~10-35. Demos 53 (grey temples)/25/73 (mostly background)/81.",
         word="Black Hair"),
    Rule("Hair Color", "hair_chroma", 10.0, 3.0, -1, ("hair",),
         "chroma sqrt(a*^2 + b*^2) of that median: grey/white hair is near neutral (< ~8), blond and brown "
         "hair ~12-30. Demos 6.5/9.7/12.9/3.9.",
         word="Gray Hair"),
    Rule("Hair Color", "hair_lightness", 55.0, 6.0, +1, ("hair",),
         "coloured hair lighter than L* 55 reads blond, darker brown (hue is not used: both are orange-"
         "yellow and lighting moves it).",
         word="Blond Hair", otherwise="Brown Hair"),
)


def _columns(rules: Sequence[Rule]) -> dict[str, list[Rule]]:
    return {column: [r for r in rules if r.column == column] for column in dict.fromkeys(r.column for r in rules)}


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return np.hypot(d[..., 0], d[..., 1])


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    u, v = a - b, c - b
    cos = float(u @ v) / max(float(np.hypot(*u) * np.hypot(*v)), 1e-9)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def geometry_measures(landmarks: np.ndarray) -> dict[str, float]:
    """The landmark-only measures of :data:`THRESHOLDS` from dlib's 68 points (x, y), scale-free
    (lengths over the inter-ocular distance) and unchanged by in-plane rotation."""
    f = FaceFrame(landmarks)
    p, iod = f.points, f.iod
    uv = f.along(p)
    nose_width = float(_dist(p[31], p[35])) / iod
    upper = _dist(p[[50, 51, 52]], p[[61, 62, 63]]).mean() / iod
    lower = _dist(p[[58, 57, 56]], p[[67, 66, 65]]).mean() / iod
    eyes = [(_dist(p[a], p[b]) + _dist(p[c], p[d])) / (2 * max(float(_dist(p[outer], p[inner])), 1e-9))
            for a, b, c, d, outer, inner in ((37, 41, 38, 40, 36, 39), (43, 47, 44, 46, 45, 42))]
    arches = []
    for first, last in ((17, 21), (22, 26)):
        chord = uv[last] - uv[first]
        length = max(float(np.hypot(*chord)), 1e-9)
        rel = uv[first + 1:last] - uv[first]
        # signed height above the chord (the chord runs along +ex, "above" is against ey)
        height = (rel[:, 0] * chord[1] - rel[:, 1] * chord[0]) / length
        arches.append(float(height.max()) / length)
    lip_line = (uv[62, 1] + uv[66, 1]) / 2
    lift = (lip_line - uv[[48, 54], 1].mean()) / iod
    width = abs(uv[16, 0] - uv[0, 0])
    brow_to_chin = uv[8, 1] - uv[17:27, 1].mean()
    return {
        "nose_size": math.sqrt(nose_width * float(_dist(p[27], p[33])) / iod),
        "nose_pointiness": float(_dist(p[27], p[30])) / max(nose_width * iod, 1e-9),
        "lip_thickness": float(upper + lower),
        "eye_aspect": float(np.mean(eyes)),
        "brow_arch": float(np.mean(arches)),
        "smile": float(lift + 0.5 * (float(_dist(p[48], p[54])) / iod - 0.95)),
        "mouth_gap": float(_dist(p[[61, 62, 63]], p[[67, 66, 65]]).mean() / iod),
        "face_ratio": float(width / max(brow_to_chin, 1e-9)),
        "jaw_angle": (_angle(p[1], p[4], p[7]) + _angle(p[15], p[12], p[9])) / 2,
    }


def _median(values: np.ndarray, mask: np.ndarray, min_pixels: int = 10) -> float:
    return float(np.median(values[mask])) if mask.sum() >= min_pixels else math.nan


#: Skin (median L* of cheeks and forehead) darker than this: the face is too dark to read colours.
MIN_SKIN_LIGHTNESS = 20.0
#: Hair-band pixels unlike the skin (CIE delta E above 15) below this share: hair hidden, or a bald head.
MIN_HAIR_SHARE = 0.3
#: Interquartile range of the hair pixels' L* above this: a mixture (hair and a bright background).
MAX_HAIR_SPREAD = 40.0


def hair_measures(lab: np.ndarray, masks: dict[str, np.ndarray], skin_mask: np.ndarray,
                  reliable: bool = True) -> dict[str, float]:
    """Median L*, chroma, a* and b* of the hair band's pixels that are not skin, plus the share of
    such pixels (``hair_share``) and the spread of their L* (``hair_spread``). All NaN (the rule
    abstains) when the skin is unreliable, when under :data:`MIN_HAIR_SHARE` of the band is unlike
    the skin (hidden hair, bald head), or when the spread exceeds :data:`MAX_HAIR_SPREAD`."""
    nan = {k: math.nan for k in ("hair_lightness", "hair_chroma", "hair_a", "hair_b")}
    hair = lab[masks["hair"]]
    if not reliable or len(hair) < 10 or skin_mask.sum() < 10:
        return {**nan, "hair_share": math.nan, "hair_spread": math.nan}
    skin_lab = np.median(lab[skin_mask], axis=0)
    not_skin = np.sqrt(((hair - skin_lab) ** 2).sum(axis=1)) > 15.0
    share = float(not_skin.mean())
    if not_skin.sum() < 10:
        return {**nan, "hair_share": share, "hair_spread": math.nan}
    hair = hair[not_skin]
    low, high = np.percentile(hair[:, 0], [25, 75])
    spread = float(high - low)
    if share < MIN_HAIR_SHARE or spread > MAX_HAIR_SPREAD:
        return {**nan, "hair_share": share, "hair_spread": spread}
    colour = np.median(hair, axis=0)
    return {"hair_lightness": float(colour[0]), "hair_chroma": float(np.hypot(colour[1], colour[2])),
            "hair_a": float(colour[1]), "hair_b": float(colour[2]), "hair_share": share, "hair_spread": spread}


def colour_measures(image: np.ndarray, landmarks: np.ndarray,
                    masks: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """The pixel-colour measures of :data:`THRESHOLDS` for one RGB uint8 face ``(H, W, 3)`` and
    its 68 landmarks, in CIE L*a*b*; regions compare with the median of the cheeks and forehead
    of the same face. ``masks`` are :func:`~s2w_toolkit.attributes.face_regions.binary_masks`
    (computed when None). Hair colour comes from :func:`hair_measures`. A measure that cannot be
    trusted is NaN, and its rule abstains."""
    image = np.asarray(image)
    masks = masks if masks is not None else binary_masks(landmarks, image.shape[:2])
    iod = FaceFrame(landmarks).iod
    lab = rgb2lab(image[..., :3])
    light = lab[..., 0]
    skin_mask = masks["cheeks"] | masks["forehead"]
    skin = _median(light, skin_mask)
    out: dict[str, float] = {}
    # a face too dark to see (skin L* below MIN_SKIN_LIGHTNESS) gives no colour measure: abstain
    safe = skin if math.isfinite(skin) and skin >= MIN_SKIN_LIGHTNESS else math.nan
    out["jaw_darkening"] = 1.0 - _median(light, masks["jaw"]) / safe
    out["lip_darkening"] = 1.0 - _median(light, masks["upper_lip"]) / safe
    grain = np.abs(light - gaussian(light, sigma=max(0.5, 0.03 * iod), preserve_range=True))
    lower = masks["jaw"] | masks["upper_lip"]
    cheek_grain = float(grain[masks["cheeks"]].mean()) if masks["cheeks"].sum() >= 10 else math.nan
    out["lower_face_grain"] = (float(grain[lower].mean()) / max(cheek_grain, 1e-6)
                               if lower.sum() >= 10 and math.isfinite(safe) else math.nan)
    texture = min(max((out["lower_face_grain"] - 1.0) / 0.5, 0.0), 1.0)
    out["beard"] = (out["jaw_darkening"] + out["lip_darkening"]) / 2 * texture
    brows = masks["eyebrows"]
    p = np.asarray(landmarks, dtype=np.float64)
    chords = float(_dist(p[17], p[21]) + _dist(p[22], p[26]))
    out["brow_thickness"] = (float((brows & (light < 0.8 * safe)).sum()) / max(chords * iod, 1e-9)
                             if math.isfinite(safe) else math.nan)
    out.update(hair_measures(lab, masks, skin_mask, math.isfinite(safe)))
    return out


def measure(image: np.ndarray, landmarks: np.ndarray,
            masks: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Every measure of :data:`THRESHOLDS` for one face: :func:`geometry_measures` and
    :func:`colour_measures`."""
    return {**geometry_measures(landmarks), **colour_measures(image, landmarks, masks)}


def decide(measures: dict[str, float], rules: Sequence[Rule] = THRESHOLDS) -> dict[str, dict[str, Any]]:
    """Per column: ``word``, ``confidence``, ``present``, ``value`` (its first rule's measure),
    ``threshold`` (its first rule's) and, for categories, ``probabilities`` of each word."""
    out = {}
    for column, chain in _columns(rules).items():
        first = chain[0]
        value = float(measures[first.measure])
        if len(chain) == 1 and not first.otherwise:
            prob = first.probability(value)
            known = math.isfinite(prob)
            out[column] = {"word": first.word or column, "confidence": prob if known else 0.5,
                           "present": known and prob > 0.5, "value": value, "threshold": first.threshold}
            continue
        probs: dict[str, float] = {}
        rest = 1.0
        for rule in chain:
            yes = rule.probability(float(measures[rule.measure]))
            probs[rule.word] = rest * yes
            rest = rest * (1.0 - yes)
        probs[chain[-1].otherwise] = rest
        if not all(math.isfinite(v) for v in probs.values()):  # not measurable: abstain
            probs = {w: 1.0 / len(probs) for w in probs}
            out[column] = {"word": f"{column}: unsure", "confidence": 1.0 / len(probs), "present": False,
                           "value": value, "threshold": first.threshold, "probabilities": probs}
            continue
        word = max(probs, key=lambda w: probs[w])  # ties go to the first word
        out[column] = {"word": word, "confidence": probs[word], "present": True, "value": value,
                       "threshold": first.threshold, "probabilities": probs}
    return out


class FaceParts(AttributeModel):
    """Heuristic attribute words from dlib's 68 landmarks and pixel colours (no trained model).

    Binary words: Big Nose, Pointy Nose, Big Lips, Narrow Eyes, Arched Eyebrows, Bushy Eyebrows,
    Smiling, Mouth Closed, Beard, Mustache, 5 o'Clock Shadow; categories: Face Shape (Oval,
    Round, Square Face) and Hair Color (Black, Blond, Brown, Gray Hair). Each column's value and
    threshold come from :data:`THRESHOLDS` (rough, hand-set), its map is the region that was
    measured. ``rules`` replaces that table (same columns).

    Example:
        >>> import numpy as np
        >>> from s2w_toolkit.faces.templates import dlib_chip_template
        >>> from s2w_toolkit.attributes.face_regions import mean_face_landmarks
        >>> points = mean_face_landmarks(dlib_chip_template(150, 0.25))  # a typical face, mouth closed
        >>> grey = np.full((150, 150, 3), 128, np.uint8)
        >>> words = decide(measure(grey, points))  # flat grey: the hair band looks like skin, so no hair colour
        >>> words["Mouth Closed"]["present"], words["Hair Color"]["word"], round(words["Beard"]["value"], 3)
        (True, 'Hair Color: unsure', 0.0)
        >>> len(FaceParts.attributes), FaceParts.attributes[-2:]
        (13, ('Face Shape', 'Hair Color'))
    """

    name: ClassVar[str] = "face-parts"
    attributes: ClassVar[tuple[str, ...]] = tuple(_columns(THRESHOLDS))
    regions: ClassVar[dict[str, tuple[str, ...]]] = declare(attributes)

    def __init__(self, rules: Sequence[Rule] = THRESHOLDS) -> None:
        if tuple(_columns(rules)) != self.attributes:
            raise ValueError(f"rules must cover the columns {self.attributes} in that order")
        self.rules = tuple(rules)

    @property
    def kinds(self) -> list[str]:
        """``"category"`` for columns with several words (a chain of rules), else ``"binary"``."""
        return ["category" if len(chain) > 1 or chain[0].otherwise else "binary"
                for chain in _columns(self.rules).values()]

    def decide_words(self, measures: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Each column's word from one face's measures (:func:`decide` with :attr:`rules`)."""
        return decide(measures, self.rules)

    def landmarks_for(self, images: np.ndarray, template: Any) -> np.ndarray:
        """``(N, 68, 2)`` dlib-scheme points of the aligned faces (here dlib's predictor)."""
        return aligned_landmarks(images, template, "dlib68")

    def evidence_for(self, index: int, landmarks: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Face ``index``'s evidence masks by region name (here the measured ``masks``)."""
        return masks

    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        """Attributes of aligned RGB uint8 faces ``(N, H, W, 3)`` or ``(H, W, 3)`` aligned to
        ``template`` (default: dlib's chip, padding 0.25, at their size); maps ``(N, A, H, W)``."""
        images = np.asarray(images, dtype=np.uint8)
        images = images[None] if images.ndim == 3 else images
        template = template or default_template(images)
        points = self.landmarks_for(images, template)
        size = images.shape[1:3]
        chains = _columns(self.rules)
        regions = dict.fromkeys(r for chain in chains.values() for r in chain[0].region)
        words, confidences, present, values, maps = [], [], [], [], []
        thresholds: list[float | None] = [chain[0].threshold for chain in chains.values()]
        for i, (image, landmarks) in enumerate(zip(images, points)):
            masks = binary_masks(landmarks, size)
            decided = self.decide_words(measure(image, landmarks, masks))
            evidence = self.evidence_for(i, landmarks, masks)
            sigma = EDGE_BLUR * FaceFrame(landmarks).iod
            soft = {r: soften(evidence[r], sigma) for r in regions}
            face_maps = [np.max([soft[r] for r in chain[0].region], axis=0) for chain in chains.values()]
            for out, key in ((words, "word"), (confidences, "confidence"), (present, "present"), (values, "value")):
                out.append([decided[c][key] for c in chains])
            maps.append(np.stack(face_maps))
        n, a = len(images), len(chains)
        return AttributePrediction.build(
            list(chains), words, np.asarray(confidences, np.float32).reshape(n, a),
            np.asarray(present, bool).reshape(n, a), np.asarray(maps, np.float32).reshape(n, a, *size),
            kinds=self.kinds, model=self.name, values=np.asarray(values, np.float32).reshape(n, a),
            thresholds=thresholds)
