from s2w_toolkit import Explainer, Explanation, hookimpl

class CenterPriorExplainer(Explainer):
    """Claims the centre of each face matters most, whatever the pair.

    Example:
        >>> from s2w_toolkit.testing import pair_from_faces, random_faces, tiny_backbone
        >>> net = tiny_backbone()
        >>> maps = CenterPriorExplainer().explain(pair_from_faces(net, *random_faces()), net).maps
        >>> maps["a"].shape, bool(maps["a"][8, 8] > maps["a"][0, 0])
        ((16, 16), True)
    """
    name = "center-prior"

    def explain(self, pair, backbone, attributes=None):
        import torch  # here, not at the top: listing plugins and `s2w --help` stay free of torch

        h, w = pair.a.shape[-2:]
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        blob = torch.exp(-4 * (xs**2 + ys**2))
        score = backbone.similarity(pair.a, pair.b).item()
        return Explanation(score=score, maps={"a": blob, "b": blob}, explainer=self.name)

@hookimpl
def s2w_register_explainers():
    return [CenterPriorExplainer]
