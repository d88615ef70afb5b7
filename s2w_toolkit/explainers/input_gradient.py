"""Input-gradient saliency of the similarity score: the simplest built-in explainer.

For side a the map is ``|d cos(f(a), f(b)) / d a|`` summed over colour channels (and the same
for b): where a small change of the pixels would move the score most.

Example:
    >>> from s2w_toolkit import load_backbone, load_pair
    >>> from s2w_toolkit.data import demo_image
    >>> net = load_backbone("dlib-resnet", device="cpu")
    >>> pair = load_pair(demo_image("obama"), demo_image("biden"), net)
    >>> InputGradientExplainer().explain(pair, net).maps["a"].shape
    (150, 150)
"""

from __future__ import annotations

import torch

from .explanation import Explanation
from ..interfaces import Explainer
from ..targets import SimilarityTo


class InputGradientExplainer(Explainer):
    """Absolute gradient of the cosine similarity with respect to each face's pixels.

    Its options are the common ones (:class:`~s2w_toolkit.options.BaseOptions`), both unused:
    one forward and one backward pass, nothing random.

    Example:
        >>> InputGradientExplainer(batch_size="8").options.batch_size
        8
    """

    name = "input-gradient"

    def explain(self, pair, backbone, attributes=None) -> Explanation:
        x = torch.cat([pair.a, pair.b]).detach().requires_grad_(True)
        with torch.enable_grad():  # each face's cosine to the other's detached embedding, one pass
            embedded = backbone.embed(x)
            units = embedded.detach()
            scores = SimilarityTo(backbone.embed, units.flip(0)).of_embeddings(embedded)
            (grad,) = torch.autograd.grad(scores.sum(), (x,))
        maps = grad.abs().sum(dim=1)
        return Explanation(score=float(units[0] @ units[1]), maps={"a": maps[0], "b": maps[1]}, explainer=self.name)
