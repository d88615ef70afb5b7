"""The evidential identification model of Sim2Word §4: an IResNet-50 trunk and a class head.

A checkpoint is a ``.pth`` state dict with keys ``backbone.<arcface_torch iresnet50 keys>``
plus ``head.weight`` ``(K, 512)`` and ``head.bias`` ``(K,)``; the layout that
``torch.save(nn.Sequential(trunk, head).state_dict())`` writes (``0.*`` / ``1.*``) is
accepted too. ``K``, the number of training identities, comes from the head's shape.

Example:
    >>> import torch
    >>> net = EDLIResNet50(num_classes=5).eval()
    >>> sorted(k for k in net.state_dict() if not k.startswith("backbone."))
    ['head.bias', 'head.weight']
    >>> net.summary()
    {'input': '112x112', 'embedding': '512'}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, PreprocessParams
from ..errors import CheckpointError
from ..weights.checkpoints import load_strict, read_state_dict
from ..weights.formats import require_weights
from .iresnet import DEPTHS, IResNetBackbone, depth_of

_EXPECTED = "edl-iresnet50 (iresnet r50 trunk + Linear(512→K) head)"


class EDLIResNet50(Backbone):
    """Evidential deep learning (EDL) identity classifier on an arcface_torch IResNet-50.

    Verification uses the trunk's 512-d embedding (:meth:`forward`), with the input,
    preprocessing, alignment template and threshold of :class:`IResNetBackbone`. The
    head's ``K`` outputs are read as evidence for a Dirichlet over identities (Sim2Word §4,
    after Sensoy et al., "Evidential Deep Learning to Quantify Classification Uncertainty",
    NeurIPS 2018)::

        e = relu(head(trunk(x))) * evidence_scale      evidence,     (N, K)
        alpha = e + 1                                  Dirichlet parameters
        S = sum_k alpha_k                              Dirichlet strength, (N,)
        b = e / S                                      belief masses, (N, K)
        u = K / S                                      uncertainty in (0, 1], (N,)

    so that ``b.sum(1) + u == 1``; ``u == 1`` when no class has any evidence.
    ``evidence_scale`` (200 by default) can be set per instance. Nothing here runs under
    ``torch.no_grad``, so ``u`` can be differentiated with respect to the input.

    Example:
        >>> import torch
        >>> net = EDLIResNet50(num_classes=10).eval()
        >>> x = torch.zeros(2, 3, 112, 112)
        >>> net(x).shape, net.logits(x).shape
        (torch.Size([2, 512]), torch.Size([2, 10]))
        >>> u = net.uncertainty(x)
        >>> u.shape, bool(((u > 0) & (u <= 1)).all())
        (torch.Size([2]), True)
        >>> torch.allclose(net.belief(x).sum(1) + u, torch.ones(2))
        True
    """

    name = "edl-iresnet50"
    input_size = IResNetBackbone.input_size
    embedding_dim = IResNetBackbone.embedding_dim
    template = IResNetBackbone.template
    threshold = IResNetBackbone.threshold
    threshold_source = "the usual operating point of insightface IResNet embeddings; calibrate it on your data"
    #: Multiplies the rectified logits into evidence.
    evidence_scale: float = 200.0

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.backbone = IResNetBackbone(depth=50)
        self.head = nn.Linear(512, num_classes)

    @classmethod
    def load(cls, weights: str | None = None) -> "EDLIResNet50":
        weights = require_weights(weights, cls.name, "--weights PATH (a .pth state dict of an iresnet r50 "
                                  "trunk + Linear(512→K) head)")
        state = _canonical(read_state_dict(weights, f"a .pth state dict of {_EXPECTED}"))
        trunk = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
        trunk = trunk or state  # a bare arcface_torch iresnet state dict is refused below, with its depth
        found = depth_of(trunk)
        if found != DEPTHS[50]:
            known = {v: f"r{k}" for k, v in DEPTHS.items()}
            what = (f"an iresnet {known[found]} trunk" if found in known
                    else f"a trunk with blocks per stage {found}" if any(found) else "no iresnet trunk")
            raise CheckpointError(f"{weights}: expected {_EXPECTED}, found {what}")
        head = state.get("head.weight")
        if head is None:
            raise CheckpointError(f"{weights}: expected {_EXPECTED}, found an iresnet r50 trunk but the head is "
                                  f"missing (no head.weight; a plain arcface-r50 checkpoint?)")
        if head.ndim != 2 or head.shape[1] != 512:
            raise CheckpointError(f"{weights}: expected {_EXPECTED}, found head.weight of shape {tuple(head.shape)}")
        net = cls(num_classes=head.shape[0])
        load_strict(net, state, weights, f"an {_EXPECTED} state dict")
        return net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's 512-d embedding (used for verification)."""
        return self.backbone(x)

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Head outputs ``(N, K)`` from the trunk's embedding, before the ReLU that makes evidence."""
        return self.head(embedding)

    def evidence(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(logits) * evidence_scale``, shape ``(N, K)``."""
        return F.relu(self.logits(x)) * self.evidence_scale

    def alpha(self, x: torch.Tensor) -> torch.Tensor:
        """Dirichlet parameters ``evidence + 1``, shape ``(N, K)``."""
        return self.evidence(x) + 1.0

    def belief(self, x: torch.Tensor) -> torch.Tensor:
        """Belief masses ``evidence / sum(alpha)``, shape ``(N, K)``."""
        evidence = self.evidence(x)
        return evidence / (evidence + 1.0).sum(dim=1, keepdim=True)

    def uncertainty(self, x: torch.Tensor) -> torch.Tensor:
        """``K / sum(alpha)``, shape ``(N,)``, in (0, 1]; differentiable."""
        return self.uncertainty_from_embedding(self(x))

    def uncertainty_from_embedding(self, embedding: torch.Tensor) -> torch.Tensor:
        """:meth:`uncertainty` from the trunk's embedding ``self(x)`` (no second forward pass)."""
        evidence = F.relu(self.classify(embedding)) * self.evidence_scale
        return self.num_classes / (evidence + 1.0).sum(dim=1)

    def preprocess_params(self) -> PreprocessParams:
        return self.backbone.preprocess_params()

    @property
    def cam_layer(self) -> nn.Module:
        return self.backbone.layer4


def _canonical(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``nn.Sequential(trunk, head)`` keys (``0.*``, ``1.*``) renamed to ``backbone.*``, ``head.*``."""
    if any(k.startswith("backbone.") for k in state) or not any(k.startswith("0.") for k in state):
        return state
    prefixes = {"0.": "backbone.", "1.": "head."}
    renamed = {}
    for key, value in state.items():
        prefix = prefixes.get(key[:2])
        renamed[prefix + key[2:] if prefix else key] = value
    return renamed
