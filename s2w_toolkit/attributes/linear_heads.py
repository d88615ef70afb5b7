"""Attribute heads you train yourself: linear heads on a frozen backbone's spatial features.

``s2w attributes train`` fits them (:mod:`s2w_toolkit.attributes.training`); this module holds
the model that speaks with them (registered as ``linear-heads``) and its file.

* Features: the backbone's ``cam_layer`` output ``F`` (C, h, w), averaged over space. Each head
  is ``Linear(C -> classes)`` on that average; a binary head has two classes, present and
  absent (class 0 is present, as in the 30-head net).
* Maps: each head's Grad-CAM of the predicted class at ``cam_layer``, taken on ``A = F - R``:
  the features less the mean feature map ``R`` of every face read in training (held-out ones
  too; ``R`` uses no label). A head linear on the spatial mean has the closed form ``relu(sum_c W[class, c] A_c)``, so the maps of every head come from
  the one forward pass (:func:`~s2w_toolkit.cam.linear_head_cams`). Subtracting
  ``R`` changes no score (it only moves the bias) but removes what every face shares, above
  all the zero-padding pattern on the map's border: on the generated moustache of the tests
  the map inside the moustache is 2.6 times its mean elsewhere, against 1.4 without it.
* File: plain tensors only (read with ``weights_only=True``): ``heads.weight`` (all classes
  stacked), ``heads.bias``, ``heads.reference`` (``R``), ``backbone.fingerprint`` (the backbone's embedding of a fixed input,
  so heads are never used on another network), and ``s2w_linear_heads.meta``, UTF-8 JSON as a
  uint8 tensor: the backbone's name and weights, the heads' names, kinds and words, and the
  accuracy measured when they were trained.

Example:
    >>> import torch, tempfile, os
    >>> from s2w_toolkit import load_backbone
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> heads = [HeadSpec("Smiling", "binary", ("Smiling", "not Smiling"))]
    >>> model = LinearHeads(net, heads, torch.zeros(2, 128), torch.tensor([0.3, 0.0]), torch.zeros(128, 8, 8))
    >>> path = os.path.join(tempfile.mkdtemp(), "heads.pt")
    >>> model.save(path)
    >>> again = LinearHeads.load(path)
    >>> p = again.predict(np.zeros((1, 150, 150, 3), np.uint8), net.template)
    >>> p.names, p.words[0], p.maps.shape, is_heads_file(path)
    (['Smiling'], ['Smiling'], torch.Size([1, 1, 150, 150]), True)
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..backbones.base import Backbone
from ..errors import CheckpointError
from ..interfaces import AttributeModel
from ..io.atomic import replacing
from ..cam import linear_head_cams
from ..capture import output_of
from .prediction import AttributePrediction, choose_classes
from .word_regions import declare

FORMAT = "s2w-linear-heads"
META_KEY = "s2w_linear_heads.meta"
#: How far (relative) the backbone's fingerprint may move before the heads are refused.
FINGERPRINT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class HeadSpec:
    """One head: attribute name, kind (``binary``: words are present, absent) and class words.

    Example:
        >>> HeadSpec("Mustache", "binary", ("Mustache", "not Mustache")).words[0]
        'Mustache'
    """

    name: str
    kind: str
    words: tuple[str, ...]


def spatial_features(backbone: Backbone, x: torch.Tensor) -> torch.Tensor:
    """The output of ``backbone.cam_layer`` for preprocessed faces ``x``; the layers after it are skipped."""
    try:
        return output_of(backbone, backbone.cam_layer, x)
    except RuntimeError:
        raise RuntimeError(f"backbone {backbone.name!r}: its cam_layer did not run in forward()") from None


def fingerprint(backbone: Backbone) -> torch.Tensor:
    """The backbone's embedding of a fixed smooth test image: what identifies its weights."""
    height, width = backbone.template.size
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([(xs * 255 // max(width - 1, 1)), (ys * 255 // max(height - 1, 1)),
                      ((xs + ys) * 127 // max(height + width - 2, 1))], axis=-1).astype(np.uint8)
    with torch.no_grad():
        return backbone.embed(backbone.preprocess(image[None]))[0].float().cpu()


def is_heads_file(path: str | Path) -> bool:
    """Whether ``path`` is a file written by :meth:`LinearHeads.save` (read without unpickling)."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            return bool(pickles) and META_KEY.encode() in archive.read(pickles[0])
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


class LinearHeads(nn.Module, AttributeModel):
    """Trained linear heads on a frozen backbone (registered as ``linear-heads``).

    Example:
        >>> from s2w_toolkit import load_backbone
        >>> net = load_backbone("dlib-resnet", device="cpu")
        >>> spec = HeadSpec("Hair Color", "category", ("Black", "Blond"))
        >>> model = LinearHeads(net, [spec], torch.zeros(2, 128), torch.tensor([0.0, 1.0]), torch.zeros(128, 8, 8))
        >>> model.attributes, model.predict(np.zeros((1, 150, 150, 3), np.uint8)).words
        (('Hair Color',), [['Blond']])
    """

    name = "linear-heads"

    def __init__(self, backbone: Backbone, heads: list[HeadSpec], weight: torch.Tensor, bias: torch.Tensor,
                 reference: torch.Tensor, meta: dict | None = None) -> None:
        super().__init__()
        sizes = [len(h.words) for h in heads]
        if weight.shape[0] != sum(sizes) or bias.shape != (sum(sizes),):
            raise ValueError(f"heads with {sum(sizes)} classes need weight ({sum(sizes)}, C) and bias "
                             f"({sum(sizes)},), got {tuple(weight.shape)} and {tuple(bias.shape)}")
        self.backbone = backbone.eval().requires_grad_(False)
        self.heads = list(heads)
        self.attributes = tuple(h.name for h in heads)
        self.regions = declare(self.attributes)  # by name: a "mustache" column speaks about the mouth
        self.offsets = np.cumsum([0] + sizes)
        self.register_buffer("weight", weight.float().clone())
        self.register_buffer("bias", bias.float().clone())
        if reference.ndim != 3 or reference.shape[0] != weight.shape[1]:
            raise ValueError(f"the reference map must be (C, h, w) with C = {weight.shape[1]}, "
                             f"got {tuple(reference.shape)}")
        self.register_buffer("reference", reference.float().clone())
        self.meta = dict(meta or {})

    def save(self, path: str | Path, backbone_weights: str | None = None) -> None:
        """Write the heads, atomically, as plain tensors (see the module docs)."""
        meta = {**self.meta, "format": FORMAT, "version": 1, "backbone": self.backbone.name,
                "backbone_weights": str(Path(backbone_weights).resolve()) if backbone_weights
                else self.meta.get("backbone_weights"),
                "heads": [asdict(h) for h in self.heads]}
        tensors = {"heads.weight": self.weight.cpu(), "heads.bias": self.bias.cpu(),
                   "heads.reference": self.reference.cpu(),
                   "backbone.fingerprint": fingerprint(self.backbone),
                   META_KEY: torch.frombuffer(bytearray(json.dumps(meta).encode()), dtype=torch.uint8)}
        with replacing(path) as temporary:
            torch.save(tensors, temporary)

    @classmethod
    def load(cls, weights: str | None = None) -> "LinearHeads":
        from ..weights.checkpoints import read_state_dict
        from ..weights.formats import require_weights
        from ..pipeline import load_backbone

        expected = f"a {cls.name} file written by `s2w attributes train`"
        state = read_state_dict(require_weights(weights, cls.name, f"--attribute-weights FILE, {expected}"), expected)
        missing = [k for k in (META_KEY, "heads.weight", "heads.bias", "heads.reference", "backbone.fingerprint")
                   if k not in state]
        if missing:
            raise CheckpointError(f"{weights}: expected {expected}, but it has no {missing[0]!r}")
        try:
            meta = json.loads(bytes(state[META_KEY].numpy().astype(np.uint8)).decode())
            heads = [HeadSpec(h["name"], h["kind"], tuple(h["words"])) for h in meta["heads"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{weights}: expected {expected}, but its metadata is unreadable ({exc})") from None
        source = meta.get("backbone_weights")
        if source and not Path(source).is_file():
            raise CheckpointError(f"{weights}: the heads were trained on {meta['backbone']} with weights {source}, "
                                  "which is not there any more")
        backbone = load_backbone(meta["backbone"], weights=source, device="cpu")
        found, stored = fingerprint(backbone), state["backbone.fingerprint"].float()
        if found.shape != stored.shape or (found - stored).norm() > FINGERPRINT_TOLERANCE * stored.norm():
            raise CheckpointError(f"{weights}: the heads were trained on another {meta['backbone']} network "
                                  "(its fingerprint does not match these weights)")
        try:
            return cls(backbone, heads, state["heads.weight"], state["heads.bias"], state["heads.reference"],
                       meta).eval()
        except ValueError as exc:
            raise CheckpointError(f"{weights}: expected {expected}, but {exc}") from None

    def logits(self, pooled: torch.Tensor) -> list[torch.Tensor]:
        """Each head's class scores from spatially averaged features ``(N, C)``."""
        scores = pooled @ self.weight.T + self.bias
        return [scores[:, self.offsets[j]:self.offsets[j + 1]] for j in range(len(self.heads))]

    def _features(self, images: np.ndarray, template: Any) -> tuple[torch.Tensor, Any]:
        from ..sim2word.identity_model import to_template

        own = self.backbone.template
        moved = template is not None and (tuple(template.size) != tuple(own.size)
                                          or not np.allclose(template.points, own.points))
        faces = to_template(images, template, own) if moved else np.asarray(images)
        return spatial_features(self.backbone, self.backbone.preprocess(faces)), moved

    @torch.no_grad()
    def predict(self, images: np.ndarray, template: Any = None) -> AttributePrediction:
        from ..sim2word.identity_model import maps_back

        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        features, moved = self._features(images, template)
        kinds = [h.kind for h in self.heads]
        weights = [self.weight[self.offsets[j]:self.offsets[j + 1]] for j in range(len(self.heads))]
        confidence, predicted, present, rows = choose_classes(self.logits(features.mean(dim=(2, 3))), weights, kinds)
        cams = linear_head_cams(features - self.reference, rows)
        size = tuple(images.shape[1:3])
        if moved:
            maps = torch.as_tensor(maps_back(cams, template, self.backbone.template), device=cams.device)
        else:
            maps = torch.nn.functional.interpolate(cams, size=size, mode="bilinear", align_corners=False)
        words = [[self.heads[j].words[int(c)] for j, c in enumerate(row)] for row in predicted.tolist()]
        return AttributePrediction.build(self.attributes, words, confidence, present, maps.clamp(0, 1),
                                         kinds=kinds, model=self.name)
