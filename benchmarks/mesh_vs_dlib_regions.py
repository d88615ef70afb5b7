"""``face-geometry`` with MediaPipe's mesh against dlib's 68 landmarks, on faces-dev.

Faces: every photo of ``identities/`` that dlib aligns, and the hand-labelled faces of
``attributes.csv`` (its group-photo faces; its identity photos are the same photos). Tables:

(a) where the mesh-derived 68 points (:data:`~s2w_toolkit.attributes.mesh_landmarks.MESH_TO_DLIB68`)
    lie from dlib's, per group, in inter-ocular distances (IOD), beside the published table
    (:data:`PUBLISHED`);
(b) region masks drawn from mesh-derived points against dlib's (IoU), and each word's evidence
    map as ``face-geometry`` shows it (mesh outlines) against the dlib region it replaces;
(c) each geometric word's value under both sources: means, correlation, the spread of the
    difference, how often the word agrees, and the within-person SD (same person, other photo);
(d) ``hair_color`` against ``attributes.csv`` under both.

``--refit`` fits the mesh->dlib table again (as its module says) and prints it, with its
in-sample and leave-one-person-out distances.

    python benchmarks/mesh_vs_dlib_regions.py [--root ../shared/faces-dev] [--refit]
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.optimize import linear_sum_assignment, lsq_linear

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.attributes.accuracy import predicted_labels, score
from s2w_toolkit.attributes.face_geometry import FaceGeometry
from s2w_toolkit.attributes.face_parts import geometry_measures
from s2w_toolkit.attributes.face_regions import REGIONS, binary_masks
from s2w_toolkit.attributes.labels import load_labelled_face
from s2w_toolkit.attributes.mesh_landmarks import (LANDMARK_GROUPS, dlib68_from_mesh, group_means,
                                                   landmark_distances, load_mesh, mesh_evidence,
                                                   mesh_part_masks, run_mesh)
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks

ROOT = Path(__file__).resolve().parents[2] / "shared" / "faces-dev"
#: The published 478->68 table (PeizhiYan/Mediapipe_2_Dlib_Landmarks, mp2dlib.py, 2024): one mesh
#: point, or the mean of two, per dlib point.
PUBLISHED = ((127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,), (400,), (379,), (365,),
             (397, 288), (361,), (323,), (454,), (356,), (70,), (63,), (105,), (66,), (107,), (336,), (296,),
             (334,), (293,), (300,), (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,), (33,),
             (160,), (158,), (133,), (153,), (144,), (362,), (385,), (387,), (263,), (373,), (380,), (61,), (39,),
             (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,), (78,), (82,), (13,), (312,),
             (308,), (317,), (14,), (87,))
#: Faces whose mean distance under PUBLISHED exceeds this (IOD): one landmarker failed; not fitted.
FAILED = 0.2
#: The words' measures (Face Shape has two rules: face_ratio, then jaw_angle).
MEASURES = {"Big Nose": "nose_size", "Pointy Nose": "nose_pointiness", "Big Lips": "lip_thickness",
            "Narrow Eyes": "eye_aspect", "Arched Eyebrows": "brow_arch", "Face Shape": "face_ratio",
            "Face Shape (jaw angle)": "jaw_angle"}
#: Each word's evidence region, and the dlib region of the same part (the whole nose, the whole brows).
EVIDENCE = {"Big Nose": ("nose_wings", "nose"), "Pointy Nose": ("nose_ridge", "nose_ridge"),
            "Big Lips": ("lips", "lips"), "Narrow Eyes": ("eyes", "eyes"), "Arched Eyebrows": ("brow_arch", "eyebrows"),
            "Face Shape": ("jawline", "jawline"), "Hair Color": ("hair", "hair")}
CONSOLE = Console(width=150)


def load_faces(root: Path, net) -> tuple[list[str], np.ndarray, dict[str, dict]]:
    names, faces = [], []
    for path in sorted((root / "identities").glob("*/*")):
        try:
            faces.append(load_face(path, net)[0])
            names.append(str(path.relative_to(root)))
        except Exception as exc:  # noqa: BLE001 - a photo dlib cannot align is left out, and said
            print(f"left out {path.relative_to(root)}: {exc}")
    with open(root / "attributes.csv", newline="") as handle:
        labels = {row["face"]: row for row in csv.DictReader(handle)}
    for face in labels:
        if face not in names:
            faces.append(load_labelled_face(face, root, net))
            names.append(face)
    return names, np.stack(faces), labels


def person(name: str) -> str:
    return name.split("/")[1] if name.startswith("identities/") else "group photos"


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    CONSOLE.print(t)


def published(mesh: np.ndarray) -> np.ndarray:
    return np.stack([mesh[:, list(ix), :2].mean(axis=1) for ix in PUBLISHED], axis=1)


def landmark_table(names, d68, mapped, old) -> None:
    ok = landmark_distances(old, d68).mean(axis=1) <= FAILED
    rows = []
    for label, points in (("published table", old), ("MESH_TO_DLIB68", mapped)):
        for sel, which in ((ok, f"{ok.sum()} faces both place"), (np.ones_like(ok), f"all {len(ok)}")):
            d = landmark_distances(points[sel], d68[sel])
            parts = [d[:, list(r)] for r in [*LANDMARK_GROUPS.values(), range(68)]]
            rows.append([label, which, *(f"{p.mean():.3f} / {np.median(p):.3f} / {np.percentile(p, 90):.3f}"
                                         for p in parts)])
    table("(a) mesh-derived 68 points vs dlib's: distance in IOD, mean / median / 90th percentile",
          ["table", "faces", *LANDMARK_GROUPS, "all"], rows)
    print("left out of 'both place':", [n for n, k in zip(names, ok) if not k])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else float("nan")


def region_table(faces, d68, mapped, parts) -> None:
    size = faces.shape[1:3]
    ours = [binary_masks(p, size) for p in mapped]
    theirs = [binary_masks(p, size) for p in d68]
    stats = lambda v: [f"{np.nanmean(v):.2f}", f"{np.nanmedian(v):.2f}", f"{np.nanmin(v):.2f}"]  # noqa: E731
    rows = [[region, "face_regions on mesh-derived points", region,
             *stats(np.array([iou(a[region], b[region]) for a, b in zip(ours, theirs)]))] for region in REGIONS]
    for word, (region, part) in EVIDENCE.items():
        shown = [mesh_evidence(q, p, m)[region] for q, p, m in zip(parts, mapped, ours)]
        where = "mesh outline" if region not in ("hair", "nose_ridge") else (
            "face_regions on mesh-derived points" + (" in the mesh nose" if region == "nose_ridge" else ""))
        for against in dict.fromkeys((region, part)):
            rows.append([f"{word} evidence", where, against,
                         *stats(np.array([iou(a, b[against]) for a, b in zip(shown, theirs)]))])
    table(f"(b) region masks, mesh vs dlib: IoU over {len(faces)} faces",
          ["region", "mesh side drawn as", "dlib region", "mean IoU", "median", "min"], rows)


def words_table(names, d68, mapped, by_dlib, by_mesh) -> None:
    a = [geometry_measures(p) for p in d68]
    b = [geometry_measures(p) for p in mapped]
    people = np.array([person(n) for n in names])
    rows = []
    for word, measure in MEASURES.items():
        x, y = np.array([m[measure] for m in a]), np.array([m[measure] for m in b])
        column = word.split(" (")[0]
        j = by_dlib.index(column)
        if measure == "jaw_angle":
            agree = "-"
        elif column == "Face Shape":
            agree = f"{np.mean([by_dlib.words[i][j] == by_mesh.words[i][j] for i in range(len(x))]):.0%} (word)"
        else:
            pa, pb = by_dlib.present[:, j].numpy(), by_mesh.present[:, j].numpy()
            agree = f"{np.mean(pa == pb):.0%} ({pa.sum()} / {pb.sum()} present)"
        within = [np.sqrt(np.mean([np.var(v[people == p]) for p in set(people) if p != "group photos"
                                   and (people == p).sum() > 1])) for v in (x, y)]
        rows.append([word, measure, f"{x.mean():.3f} ± {x.std():.3f}", f"{y.mean():.3f} ± {y.std():.3f}",
                     f"{np.corrcoef(x, y)[0, 1]:.2f}", f"{np.median(np.abs(x - y)):.3f} / {np.abs(x - y).max():.3f}",
                     agree, f"{within[0]:.3f} / {within[1]:.3f}"])
    table(f"(c) geometric words on {len(names)} faces: dlib's points vs the mesh's",
          ["word", "measure", "dlib mean ± SD", "mesh mean ± SD", "r", "|diff| median / max",
           "present agrees (dlib / mesh)", "within-person SD dlib / mesh"], rows)


def hair_table(names, labels, by_dlib, by_mesh) -> None:
    rows = []
    picked = [i for i, n in enumerate(names) if n in labels]
    truth = [labels[names[i]] for i in picked]
    for source, p in (("dlib68", by_dlib), ("mesh", by_mesh)):
        answers = [predicted_labels({r["attribute"]: r for r in p.rows(i)}) for i in picked]
        row = next(r for r in score(truth, answers) if r["label"] == "hair_color")
        accuracy = f"{row['right'] / row['answered']:.0%}" if row["answered"] else "-"
        rows.append([source, str(row["faces"]), str(row["answered"]), f"{row['right']} ({accuracy})",
                     f"{row['common_share']:.0%} ({row['common']})", ", ".join(row["confusions"])])
    table("(d) face-geometry's Hair Color against attributes.csv", ["landmarks", "labelled", "answered", "right",
          "always the most common", "confusions"], rows)


# --- refit -------------------------------------------------------------------------------------
_UP_LIP = (185, 40, 39, 37, 0, 191, 80, 81, 82, 13, 184, 74, 73, 72, 11, 183, 42, 41, 38, 12)
_LOW_LIP = (146, 91, 181, 84, 17, 95, 88, 178, 87, 14, 77, 90, 180, 85, 16, 96, 89, 179, 86, 15)
_UP_LID = (246, 161, 160, 159, 158, 157, 173, 247, 30, 29, 27, 28, 56, 190)
_LOW_LID = (7, 163, 144, 145, 153, 154, 155, 25, 110, 24, 23, 22, 26, 112)
_LIP_CORNERS, _EYE_CORNERS = (61, 78, 76, 62), (33, 133, 130, 243)
_MIRROR68 = (*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46,
             39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65)
CAP = 0.25
#: Midline points are made of mesh points at most this far (IOD, on average) from dlib's.
LOCAL = 0.3


def mirror_pairs(mesh_model, faces, template) -> np.ndarray:
    """The mesh's mirror permutation: meshes of the flipped faces, flipped back, matched to the
    faces' meshes (least total distance)."""
    a = run_mesh(mesh_model, faces, template).points
    b = run_mesh(mesh_model, np.ascontiguousarray(faces[:, :, ::-1]), template).points
    b[..., 0] = faces.shape[2] - 1 - b[..., 0]
    cost = np.linalg.norm(a[:, :468, None] - b[:, None, :468], axis=3).mean(axis=0)
    return linear_sum_assignment(cost)[1]


def allowed(mirror: np.ndarray) -> dict[int, np.ndarray]:
    both = lambda ix: np.array(sorted(set(ix) | {int(mirror[i]) for i in ix}))  # noqa: E731
    lips, eyes = both(_UP_LIP + _LOW_LIP + _LIP_CORNERS), both(_UP_LID + _LOW_LID + _EYE_CORNERS)
    rest = np.array([i for i in range(468) if i not in set(lips) | set(eyes)])
    out = {}
    for k in range(68):
        out[k] = (rest if k < 36 else eyes if k in (36, 39, 42, 45) else both(_UP_LID + _EYE_CORNERS)
                  if k in (37, 38, 43, 44) else both(_LOW_LID + _EYE_CORNERS) if k < 48 else lips
                  if k in (48, 54, 60, 64) else both(_UP_LIP + _LIP_CORNERS) if k in (49, 50, 51, 52, 53, 61, 62, 63)
                  else both(_LOW_LIP + _LIP_CORNERS))
    return out


def _weights(columns: list[np.ndarray], targets: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Barycentric weights (>= 0, sum 1) of the columns' points nearest the targets: IRLS for the
    mean distance, capped at CAP. columns: per target, (F, m, 2) candidate points; targets (F, 2)."""
    a0 = np.concatenate([c.transpose(0, 2, 1).reshape(-1, c.shape[1]) for c in columns])
    b0 = np.concatenate([t.reshape(-1) for t in targets])
    weights = np.ones(len(b0) // 2)
    for _ in range(6):
        s = np.repeat(np.sqrt(weights), 2)
        a = np.vstack([a0 * s[:, None], 30.0 * np.ones(a0.shape[1])])
        w = lsq_linear(a, np.append(b0 * s, 30.0), bounds=(0, 1)).x
        w = w / w.sum()
        d = np.linalg.norm((a0 @ w - b0).reshape(-1, 2), axis=1)
        weights = np.where(d < CAP, 1 / np.maximum(d, 0.005), 0.0)
    return w, float(np.minimum(d, CAP).mean())


def fit(mesh: np.ndarray, d68: np.ndarray, mirror: np.ndarray, near: int = 9) -> list[list[tuple[int, float]]]:
    """The table, as the module :mod:`~s2w_toolkit.attributes.mesh_landmarks` describes it."""
    iod = np.linalg.norm(d68[:, 42:48].mean(1) - d68[:, 36:42].mean(1), axis=1)[:, None, None]
    m, d = mesh[..., :2] / iod, d68 / iod
    ok, out = allowed(mirror), [None] * 68
    for k in range(68):
        if out[k] is not None:
            continue
        k2, pool = _MIRROR68[k], ok[k]
        far = np.linalg.norm(m[:, pool] - d[:, k:k + 1], axis=2).mean(0)
        order = pool[np.argsort(far)]
        best = None
        if k2 == k:  # midline: midline points and mirror pairs' means, within LOCAL of the point
            local = {int(i) for i in pool[far <= LOCAL]} | {int(i) for i in order[:2]}
            units = [(int(i),) for i in order if mirror[i] == i and i in local][:near]
            units += list(dict.fromkeys(tuple(sorted((int(i), int(mirror[i])))) for i in order
                                        if mirror[i] != i and i in local))[:4]
            for trip in itertools.combinations(units, min(3, len(units))):
                w, c = _weights([np.stack([m[:, list(u)].mean(1) for u in trip], 1)], [d[:, k]])
                if best is None or c < best[0]:
                    best = (c, trip, w)
            _, trip, w = best  # a pair's weight is split evenly, after rounding: the point stays on the midline
            kept = dict(_rounded(list(enumerate(w))))
            out[k] = [(i, round(kept[j] / len(u), 3)) for j, u in enumerate(trip) if j in kept for i in u]
            continue
        for trip in itertools.combinations([int(i) for i in order[:near]], 3):
            twin = [int(mirror[i]) for i in trip]
            w, c = _weights([m[:, list(trip)], m[:, twin]], [d[:, k], d[:, k2]])
            if best is None or c < best[0]:
                best = (c, trip, twin, w)
        _, trip, twin, w = best
        out[k], out[k2] = list(zip(trip, w)), list(zip(twin, w))
    return [terms if _MIRROR68[k] == k else _rounded(terms) for k, terms in enumerate(out)]


def _rounded(terms: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Weights under 0.02 dropped, the rest to 0.01, summing to 1 (the remainder on the largest)."""
    kept = {i: w for i, w in terms if w >= 0.02}
    total = sum(kept.values())
    rounded = {i: round(w / total, 2) for i, w in sorted(kept.items(), key=lambda t: -t[1])}
    top = next(iter(rounded))
    rounded[top] = round(rounded[top] + 1 - sum(rounded.values()), 2)
    return list(rounded.items())


def apply(terms: list[list[tuple[int, float]]], mesh: np.ndarray) -> np.ndarray:
    return np.stack([sum(w * mesh[:, i, :2] for i, w in t) for t in terms], axis=1)


def refit(names, faces, template, d68, mesh_model, mesh) -> None:
    ok = landmark_distances(published(mesh), d68).mean(axis=1) <= FAILED
    mirror = mirror_pairs(mesh_model, faces[ok], template)
    terms = fit(mesh[ok], d68[ok], mirror)
    people = np.array([person(n) for n in names])[ok]
    held = np.zeros((ok.sum(), 68))
    for p in sorted(set(people)):
        out = people == p
        held[out] = landmark_distances(apply(fit(mesh[ok][~out], d68[ok][~out], mirror), mesh[ok][out]), d68[ok][out])
    rows = [[label, *(f"{v:.3f}" for v in group_means(dist).values())] for label, dist in (
        ("published", landmark_distances(published(mesh[ok]), d68[ok])),
        ("refit, in-sample", landmark_distances(apply(terms, mesh[ok]), d68[ok])),
        ("refit, leave one person out", held))]
    table(f"refit on {ok.sum()} faces: mean distance / IOD", ["table", *LANDMARK_GROUPS, "all"], rows)
    for k, t in enumerate(terms):
        print(f"    ({', '.join(f'({i}, {w})' for i, w in t)}{',' if len(t) == 1 else ''}),  # {k}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(ROOT))
    parser.add_argument("--refit", action="store_true")
    args = parser.parse_args()
    net = load_backbone("dlib-resnet", device="cpu")
    names, faces, labels = load_faces(Path(args.root), net)
    template = net.template
    mesh_model = load_mesh("mesh")
    d68 = aligned_landmarks(faces, template, "dlib68")
    found = run_mesh(mesh_model, faces, template)
    print(f"{len(names)} faces; the mesh places {int(found.placed.sum())}")
    if args.refit:
        refit(names, faces, template, d68, mesh_model, found.points)
        return
    mapped = dlib68_from_mesh(found.points)
    landmark_table(names, d68, mapped, published(found.points))
    region_table(faces, d68, mapped, mesh_part_masks(found.points, faces.shape[1:3]))
    by_dlib = FaceGeometry(landmarks="dlib68").predict(faces, template)
    by_mesh = FaceGeometry(landmarks="mesh").predict(faces, template)
    words_table(names, d68, mapped, by_dlib, by_mesh)
    hair_table(names, labels, by_dlib, by_mesh)


if __name__ == "__main__":
    main()
