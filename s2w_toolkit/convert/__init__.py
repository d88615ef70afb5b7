"""Converters from other model formats into differentiable PyTorch modules.

Example:
    >>> from s2w_toolkit.convert import convert_onnx, SUPPORTED
    >>> "PRelu" in SUPPORTED
    True
"""

from .onnx_graph import OnnxModule, convert_onnx, read_onnx
from .onnx_ops import SUPPORTED

__all__ = ["OnnxModule", "SUPPORTED", "convert_onnx", "read_onnx"]
