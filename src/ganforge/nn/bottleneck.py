"""R3GAN's residual block: a normalisation-free grouped bottleneck with fix-up initialisation (Huang et al. 2024).

x + conv1x1(act(gconv3x3(act(conv1x1(x))))), the inner width `expansion` times the outer, the 3×3
convolution grouped (ResNeXt, Xie et al. 2017), LeakyReLU(0.2) after a learned bias and no
normalisation. Weights start from He's normal with the activation's gain; the first two convolutions
are scaled by L^(-1/4) for a network of L blocks and the last is zero, so every block starts as the
identity (Fixup, Zhang et al. 2019).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEGATIVE_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2.0 / (1.0 + NEGATIVE_SLOPE ** 2))  #: He's gain for LeakyReLU(0.2)


def he_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Weights from N(0, (gain / √fan-in)²), biases zero; returns `layer`."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(in_channels: int, out_channels: int, kernel: int, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A same-size convolution without bias, He-initialised with `gain`."""
    return he_init(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, groups=groups, bias=False), gain)


class BiasedLeakyReLU(nn.Module):
    """LeakyReLU(0.2) of x plus a learned per-channel bias: where the biases of R3GAN's blocks live."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Same shape as `x`."""
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1), NEGATIVE_SLOPE)


class BottleneckBlock(nn.Module):
    """x + 1×1 conv → act → grouped 3×3 conv → act → 1×1 conv, for a network of `total_blocks` such blocks."""

    def __init__(self, channels: int, group_width: int = 16, expansion: int = 2, total_blocks: int = 1):
        super().__init__()
        inner = channels * expansion
        if inner % group_width:
            raise ValueError(f"inner width {inner} is not a multiple of the group width {group_width}")
        gain = ACTIVATION_GAIN * total_blocks ** -0.25  # L^(-1/(2m-2)) with m = 3 layers
        self.expand = conv(channels, inner, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(inner)
        self.grouped = conv(inner, inner, 3, groups=inner // group_width, gain=gain)
        self.act2 = BiasedLeakyReLU(inner)
        self.project = conv(inner, channels, 1, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x: Tensor) -> Tensor:
        """Same shape as `x`."""
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))
