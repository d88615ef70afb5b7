"""Input-gradient saliency of the similarity score: the simplest built-in explainer.

For side a the map is ``|d cos(f(a), f(b)) / d a|`` summed over colour channels (and the same
for b): where a small change of the pixels would move the score most.

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> InputGradient().explain(pair, net).maps["a"].shape
    (150, 150)
"""

from __future__ import annotations

import torch

from ..explanation import Explanation
from ..interfaces import Explainer


class InputGradient(Explainer):
    """Absolute gradient of the cosine similarity with respect to each face's pixels.

    Its options are the common ones (:class:`~s2w_toolkit.options.BaseOptions`), both unused:
    one forward and one backward pass, nothing random.

    Example:
        >>> InputGradient(batch_size="8").options.batch_size
        8
    """

    name = "input-gradient"

    def explain(self, pair, backbone, attributes=None) -> Explanation:
        a = pair.a.detach().clone().requires_grad_(True)
        b = pair.b.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            score = backbone.similarity(a, b).sum()
            grad_a, grad_b = torch.autograd.grad(score, (a, b))
        maps = {"a": grad_a.abs().sum(dim=1)[0], "b": grad_b.abs().sum(dim=1)[0]}
        return Explanation(score=score.item(), maps=maps, explainer=self.name)
