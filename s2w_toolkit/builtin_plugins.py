"""The toolkit's own backbones and explainers, registered through the same hooks as any plugin.

Classes are named by reference so that listing them does not import torch.

Example:
    >>> [ref.name for ref in s2w_register_backbones()]
    ['dlib-resnet']
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .lazy import ClassRef


@hookimpl
def s2w_register_backbones():
    return [ClassRef("s2w_toolkit.backbones.dlib_resnet:DlibResNet", name="dlib-resnet")]


@hookimpl
def s2w_register_attribute_models():
    return []


@hookimpl
def s2w_register_explainers():
    return [ClassRef("s2w_toolkit.explainers.input_gradient:InputGradient", name="input-gradient")]
