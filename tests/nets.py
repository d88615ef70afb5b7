"""Helpers that make randomly initialised networks look trained (not a test module itself)."""

from __future__ import annotations

import torch
from torch import nn


def randomise_batch_norm(net: nn.Module, weight: tuple[float, float] | None = None) -> nn.Module:
    """Non-trivial batch-norm statistics and shifts, as a trained model has; ``weight`` also
    draws the scales from that range (small scales keep deep nets' activations bounded)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                if weight is not None:
                    m.weight.uniform_(*weight)
    return net.eval()
