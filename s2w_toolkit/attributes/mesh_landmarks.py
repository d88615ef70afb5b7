"""dlib's 68 landmarks read off MediaPipe's 478-point face mesh, and evidence regions drawn from the mesh.

``face-geometry`` measures faces with dlib's 68 points (:func:`~s2w_toolkit.attributes.face_parts.
geometry_measures`) and draws its regions from them (:mod:`~s2w_toolkit.attributes.face_regions`);
its thresholds were set on dlib's points. When MediaPipe's mesh is installed it takes the 68
points from the mesh instead (:data:`MESH_TO_DLIB68`), so that every measure, region and
threshold keeps its definition, and it draws the evidence of the parts the mesh outlines
(nose, lips, eyes, eyebrows, face oval) from the mesh's own outlines (:func:`mesh_evidence`).

The correspondence. Each dlib point is a fixed weighted mean of one to three mesh points (a
mirror pair's mean counts as one point on the midline; weights >= 0, summing to 1), so it moves
with the face. Fitted on faces-dev on 2026-12-07 (``benchmarks/mesh_vs_dlib_regions.py --refit``
prints the fit; faces-dev is never read at run time), on the 21 faces where dlib's points and
the published table below agree within 0.2 IOD (the 22nd, a turned, half-hidden face, is 0.27
IOD off under either table): for each dlib point and its mirror image together (``0 <-> 16``,
``36 <-> 45``...; the mesh's mirror pairs from meshes of flipped faces), of the 9 nearest mesh
points of the same part (upper-lip points for an upper-lip point, lower-lid points for a lower
lid's, no lip or eye point for the jaw, brows and nose, no iris point; midline points from
midline points and pairs within 0.3 IOD), the triple and weights with the least mean distance
to dlib's points (IRLS; distances capped at 0.25 IOD), rounded to 0.01. It starts from and
replaces the published one-or-two-point table of PeizhiYan/Mediapipe_2_Dlib_Landmarks (GitHub,
``mp2dlib.py``, 2024), which sits further from dlib's points. Mean distance in inter-ocular
distances (IOD, between dlib's eye centres) on those 21 faces:

=========================  =====  =====  =====  =====  =====  =====
mean distance / IOD         jaw   brows  nose   eyes   lips   all
=========================  =====  =====  =====  =====  =====  =====
published table            0.120  0.069  0.045  0.024  0.047  0.064
this table, in-sample      0.063  0.034  0.025  0.016  0.040  0.038
this table, held-out [1]   0.065  0.036  0.026  0.017  0.041  0.040
=========================  =====  =====  =====  =====  =====  =====

[1] leave one person out: fitted without a person's photos (or without the group photos),
measured on them. dlib's points are not exact either: part of what remains is dlib's error.
What the measures and words do under either source: ``benchmarks/mesh_vs_dlib_regions.py``.

Example:
    >>> import numpy as np
    >>> mesh = np.zeros((1, 478, 2))
    >>> mesh[0, :, 0] = np.arange(478)  # x = the mesh index
    >>> points = dlib68_from_mesh(mesh)
    >>> points.shape, float(points[0, 8, 0]), float(points[0, 62, 0])  # chin = mesh 152, mid lip = 13
    ((1, 68, 2), 152.0, 13.0)
    >>> sorted(LANDMARK_GROUPS)
    ['brows', 'eyes', 'jaw', 'lips', 'nose']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from ..errors import CheckpointError, NoFaceError
from ..faces.frames import faces_to_tensor
from ..weights.registry_files import registry_file
from .face_mesh import MIN_CONFIDENCE, FaceMesh
from .face_regions import FaceFrame
from .mesh_regions import mesh_region_masks

#: Per dlib point (0-67, in order): (mesh index, weight) pairs; the point is their weighted mean.
MESH_TO_DLIB68: tuple[tuple[tuple[int, float], ...], ...] = (
    ((127, 1.0),),  # 0
    ((234, 0.61), (137, 0.39)),  # 1
    ((132, 0.4), (137, 0.33), (177, 0.27)),  # 2
    ((215, 0.66), (58, 0.27), (177, 0.07)),  # 3
    ((172, 0.51), (138, 0.42), (136, 0.07)),  # 4
    ((136, 0.65), (150, 0.35)),  # 5
    ((149, 1.0),),  # 6
    ((148, 0.61), (176, 0.39)),  # 7
    ((152, 1.0),),  # 8
    ((377, 0.61), (400, 0.39)),  # 9
    ((378, 1.0),),  # 10
    ((365, 0.65), (379, 0.35)),  # 11
    ((397, 0.51), (367, 0.42), (365, 0.07)),  # 12
    ((435, 0.66), (288, 0.27), (401, 0.07)),  # 13
    ((361, 0.4), (366, 0.33), (401, 0.27)),  # 14
    ((454, 0.61), (366, 0.39)),  # 15
    ((356, 1.0),),  # 16
    ((156, 0.57), (70, 0.35), (46, 0.08)),  # 17
    ((63, 0.66), (68, 0.18), (224, 0.16)),  # 18
    ((105, 0.37), (65, 0.35), (104, 0.28)),  # 19
    ((66, 0.54), (107, 0.36), (69, 0.1)),  # 20
    ((107, 0.56), (9, 0.24), (55, 0.2)),  # 21
    ((336, 0.56), (9, 0.24), (285, 0.2)),  # 22
    ((296, 0.54), (336, 0.36), (299, 0.1)),  # 23
    ((334, 0.37), (295, 0.35), (333, 0.28)),  # 24
    ((293, 0.66), (298, 0.18), (444, 0.16)),  # 25
    ((383, 0.57), (300, 0.35), (276, 0.08)),  # 26
    ((8, 0.61), (197, 0.19), (245, 0.1), (465, 0.1)),  # 27
    ((5, 0.43), (8, 0.35), (188, 0.11), (412, 0.11)),  # 28
    ((6, 0.17), (51, 0.415), (281, 0.415)),  # 29
    ((4, 0.92), (2, 0.08)),  # 30
    ((75, 0.62), (98, 0.38)),  # 31
    ((97, 0.88), (242, 0.12)),  # 32
    ((164, 0.8), (4, 0.2)),  # 33
    ((326, 0.88), (462, 0.12)),  # 34
    ((305, 0.62), (327, 0.38)),  # 35
    ((130, 0.45), (7, 0.36), (246, 0.19)),  # 36
    ((160, 0.87), (158, 0.13)),  # 37
    ((158, 0.92), (173, 0.08)),  # 38
    ((133, 0.55), (154, 0.41), (157, 0.04)),  # 39
    ((153, 0.87), (24, 0.13)),  # 40
    ((144, 0.91), (25, 0.09)),  # 41
    ((362, 0.55), (381, 0.41), (384, 0.04)),  # 42
    ((385, 0.92), (398, 0.08)),  # 43
    ((387, 0.87), (385, 0.13)),  # 44
    ((359, 0.45), (249, 0.36), (466, 0.19)),  # 45
    ((373, 0.91), (255, 0.09)),  # 46
    ((380, 0.87), (254, 0.13)),  # 47
    ((61, 0.93), (146, 0.07)),  # 48
    ((39, 0.56), (74, 0.44)),  # 49
    ((37, 0.92), (11, 0.08)),  # 50
    ((0, 0.34), (72, 0.33), (302, 0.33)),  # 51
    ((267, 0.92), (11, 0.08)),  # 52
    ((269, 0.56), (304, 0.44)),  # 53
    ((291, 0.93), (375, 0.07)),  # 54
    ((321, 0.51), (405, 0.49)),  # 55
    ((314, 1.0),),  # 56
    ((17, 1.0),),  # 57
    ((84, 1.0),),  # 58
    ((91, 0.51), (181, 0.49)),  # 59
    ((77, 0.4), (62, 0.35), (191, 0.25)),  # 60
    ((81, 0.41), (82, 0.35), (13, 0.24)),  # 61
    ((13, 1.0),),  # 62
    ((311, 0.41), (312, 0.35), (13, 0.24)),  # 63
    ((307, 0.4), (292, 0.35), (415, 0.25)),  # 64
    ((317, 0.86), (403, 0.14)),  # 65
    ((14, 0.72), (15, 0.28)),  # 66
    ((87, 0.86), (179, 0.14)),  # 67
)

#: dlib's point groups (the 68-point scheme's parts).
LANDMARK_GROUPS: dict[str, range] = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
                                     "eyes": range(36, 48), "lips": range(48, 68)}
#: The ways ``face-geometry`` finds its 68 points: the mesh when installed (else dlib), the mesh, dlib.
LANDMARK_SOURCES = ("auto", "mesh", "dlib68")
#: Half width of the face-oval band (Face Shape's evidence), in IOD: as face_regions' jawline band.
OVAL_BAND = 0.08
#: Mesh regions rasterised per face for :func:`mesh_evidence`.
MESH_PARTS = ("nose", "lips", "lips_inner", "eyes", "eyebrows", "face_oval")


def mapping_matrix() -> np.ndarray:
    """``(68, 478)`` weights: dlib's points are ``matrix @ mesh_points``.

    Example:
        >>> m = mapping_matrix()
        >>> m.shape, bool(np.allclose(m.sum(axis=1), 1.0)), int((m > 0).sum(axis=1).max())
        ((68, 478), True, 4)
    """
    matrix = np.zeros((68, 478))
    for k, terms in enumerate(MESH_TO_DLIB68):
        for index, weight in terms:
            matrix[k, index] += weight
    return matrix


def dlib68_from_mesh(mesh: Any) -> np.ndarray:
    """``(N, 68, 2)`` dlib-scheme points (x, y) from mesh landmarks ``(N, 478, 2 or 3)`` (numpy or
    torch; one ``(478, k)`` face gives ``(1, 68, 2)``), by :data:`MESH_TO_DLIB68`."""
    points = mesh.detach().cpu().numpy() if isinstance(mesh, torch.Tensor) else np.asarray(mesh)
    points = points[None] if points.ndim == 2 else points
    return np.einsum("kj,njc->nkc", mapping_matrix(), points[..., :2].astype(np.float64))


def landmark_distances(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(N, 68)`` distance of each point from the reference's, in the reference's inter-ocular
    distances (between its eye centres, points 36-41 and 42-47).

    Example:
        >>> ref = np.zeros((1, 68, 2)); ref[0, 42:48, 0] = 10.0  # eyes 10 px apart
        >>> float(landmark_distances(ref + [0.0, 2.0], ref)[0, 0])  # 2 px off: 0.2 IOD
        0.2
    """
    reference = np.asarray(reference, dtype=np.float64)
    iod = np.linalg.norm(reference[:, 42:48].mean(1) - reference[:, 36:42].mean(1), axis=1)
    return np.linalg.norm(np.asarray(points) - reference, axis=2) / np.maximum(iod, 1e-6)[:, None]


def group_means(distances: np.ndarray) -> dict[str, float]:
    """Mean of ``(N, 68)`` distances per :data:`LANDMARK_GROUPS` group, and ``all``."""
    out = {g: float(np.mean(distances[:, list(r)])) for g, r in LANDMARK_GROUPS.items()}
    return {**out, "all": float(np.mean(distances))}


def load_mesh(landmarks: str = "auto", path: str | Path | None = None) -> FaceMesh | None:
    """The mesh ``face-geometry`` uses for ``landmarks`` (:data:`LANDMARK_SOURCES`): None for
    ``dlib68``, and for ``auto`` when the mesh file is not installed (a file present but
    damaged: a warning, then None); for ``mesh`` a missing file is the one-line
    :class:`~s2w_toolkit.errors.CheckpointError`.

    Example:
        >>> load_mesh("dlib68") is None, type(load_mesh("mesh")).__name__
        (True, 'FaceMesh')
    """
    if landmarks not in LANDMARK_SOURCES:
        raise ValueError(f"landmarks must be one of {', '.join(LANDMARK_SOURCES)}, not {landmarks!r}")
    if landmarks == "dlib68":
        return None
    if path is not None or landmarks == "mesh":
        return FaceMesh.load(path)
    try:
        found = registry_file("face_landmarker.task")
    except CheckpointError as exc:
        if "is not installed" not in str(exc):
            warnings.warn(f"face-geometry: {exc}; using dlib's 68 landmarks", stacklevel=3)
        return None
    return FaceMesh.load(found)


@dataclass
class MeshFaces:
    """The mesh of N aligned faces: ``points`` (N, 478, 2) in the faces' pixels, ``presence``
    (N,) MediaPipe's face-presence probability, ``placed`` (N,) bool: presence >= 0.5.

    Example:
        >>> faces = MeshFaces(np.zeros((2, 478, 2)), np.array([0.99, 0.1]))
        >>> faces.placed.tolist()
        [True, False]
    """

    points: np.ndarray
    presence: np.ndarray

    @property
    def placed(self) -> np.ndarray:
        return self.presence >= MIN_CONFIDENCE


def run_mesh(mesh: FaceMesh, images: np.ndarray, template: Any = None) -> MeshFaces:
    """The mesh of aligned RGB uint8 faces ``(N, H, W, 3)``, all in one batch, without gradients."""
    device = next(mesh.parameters()).device
    with torch.no_grad():
        result = mesh(faces_to_tensor(images, device), template)
    return MeshFaces(result.landmarks[..., :2].cpu().double().numpy(), result.presence.cpu().double().numpy())


def refuse_unplaced(found: MeshFaces, name: str = "face-geometry") -> None:
    """The one-line :class:`~s2w_toolkit.errors.NoFaceError` naming the faces the mesh did not place."""
    missing = np.flatnonzero(~found.placed).tolist()
    if missing:
        scores = ", ".join(f"{found.presence[i]:.2f}" for i in missing)
        raise NoFaceError(f"{name}: the face mesh places no face in image(s) {', '.join(map(str, missing))} of "
                          f"the batch of {len(found.presence)} (face-presence {scores} < {MIN_CONFIDENCE}); "
                          f"pass aligned faces, or landmarks='auto' to use dlib's points there")


def mesh_part_masks(points: np.ndarray, size: tuple[int, int], chunk: int = 64) -> np.ndarray:
    """``(N, len(MESH_PARTS), H, W)`` bool masks of :data:`MESH_PARTS` for ``(N, 478, 2)`` points
    (rasterised ``chunk`` faces at a time)."""
    points = torch.as_tensor(np.asarray(points))
    parts = [mesh_region_masks(points[i:i + chunk], size, MESH_PARTS).numpy() > 0.5
             for i in range(0, len(points), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, len(MESH_PARTS), *size), bool)


def oval_band(oval: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Pixels within :data:`OVAL_BAND` IOD of the face oval's outline, from the eyes down: the
    mesh's jaw line (Face Shape's evidence, as ``jawline`` is dlib's points 0-16)."""
    frame = FaceFrame(landmarks)
    width = OVAL_BAND * frame.iod
    band = (oval & (distance_transform_edt(oval) <= width)) | (~oval & (distance_transform_edt(~oval) <= width))
    ys, xs = np.mgrid[0:oval.shape[0], 0:oval.shape[1]]
    eyes_v = frame.along(np.stack([frame.left_eye, frame.right_eye]))[:, 1].mean()
    return band & (xs * frame.ey[0] + ys * frame.ey[1] >= eyes_v)


def mesh_evidence(parts: np.ndarray, landmarks: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One face's evidence masks by ``face-parts`` region name, the mesh's outlines where the
    mesh has the part: ``nose_wings`` (Big Nose) the nose outline; ``nose_ridge`` (Pointy
    Nose) the bridge band of ``masks`` inside it; ``lips`` (Big Lips) between the outer and
    inner lip outlines; ``eyes`` the eye outlines; ``brow_arch`` (Arched Eyebrows) the brows'
    outlines; ``jawline`` (Face Shape) :func:`oval_band`. Other regions (the hair band) stay
    ``masks``' (drawn from the mesh's 68 points). ``parts``: the face's :func:`mesh_part_masks`.

    Example:
        >>> from s2w_toolkit.attributes.face_regions import binary_masks, mean_face_landmarks
        >>> from s2w_toolkit.faces.templates import dlib_chip_template
        >>> points = mean_face_landmarks(dlib_chip_template(150, 0.25))
        >>> parts = np.zeros((len(MESH_PARTS), 150, 150), bool)
        >>> parts[0, 60:90, 65:85] = True  # a nose
        >>> evidence = mesh_evidence(parts, points, binary_masks(points, (150, 150)))
        >>> int(evidence["nose_wings"].sum()), bool((evidence["nose_ridge"] <= parts[0]).all())
        (600, True)
    """
    part = dict(zip(MESH_PARTS, parts))
    return {**masks, "nose_wings": part["nose"], "nose_ridge": masks["nose_ridge"] & part["nose"],
            "lips": part["lips"] & ~part["lips_inner"], "eyes": part["eyes"], "brow_arch": part["eyebrows"],
            "jawline": oval_band(part["face_oval"], landmarks)}
