"""The toolkit's own backbones and explainers, registered through the same hooks as any plugin.

Classes are named by reference so that listing them does not import torch.

Example:
    >>> [ref.name for ref in s2w_register_backbones()][:3]
    ['dlib-resnet', 'arcface-r18', 'arcface-r34']
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .lazy import ClassRef


@hookimpl
def s2w_register_backbones():
    iresnets = [f"{family}-r{depth}" for family in ("arcface", "cosface") for depth in (18, 34, 50, 100)]
    return [ClassRef("s2w_toolkit.backbones.dlib_resnet:DlibResNet", name="dlib-resnet")] + [
        ClassRef(f"s2w_toolkit.backbones.iresnet:{name.split('-')[0].title()}R{name.rsplit('-r', 1)[1]}", name=name)
        for name in iresnets
    ]


@hookimpl
def s2w_register_attribute_models():
    return []


@hookimpl
def s2w_register_explainers():
    return [ClassRef("s2w_toolkit.explainers.input_gradient:InputGradient", name="input-gradient")]
