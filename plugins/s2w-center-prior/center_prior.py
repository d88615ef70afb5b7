import torch
from s2w_toolkit import Explainer, Explanation, hookimpl

class CenterPrior(Explainer):
    """Claims the centre of each face matters most, whatever the pair."""
    name = "center-prior"

    def explain(self, pair, backbone, attributes=None):
        h, w = pair.a.shape[-2:]
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        blob = torch.exp(-4 * (xs**2 + ys**2))
        score = backbone.similarity(pair.a, pair.b).item()
        return Explanation(score=score, maps={"a": blob, "b": blob}, explainer=self.name)

@hookimpl
def s2w_register_explainers():
    return [CenterPrior]
