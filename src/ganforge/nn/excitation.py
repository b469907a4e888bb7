"""Skip-layer excitation (Liu et al. 2021, FastGAN): a low-resolution feature map gates the channels of a
high-resolution one, a shortcut across resolutions that costs one small branch instead of a full skip."""
from __future__ import annotations

from torch import Tensor, nn


class SkipLayerExcitation(nn.Module):
    """high · σ(conv1x1(swish(conv4x4(pool₄(low))))): one gate in (0, 1) per sample and high channel.

    The low map is average-pooled to 4×4 whatever its size, so any pair of resolutions can be joined.
    """

    def __init__(self, low_channels: int, high_channels: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(low_channels, high_channels, 4, 1, 0, bias=False),
                                  nn.SiLU(), nn.Conv2d(high_channels, high_channels, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, low: Tensor, high: Tensor) -> Tensor:
        """`high` with each channel scaled by its gate, same shape as `high`."""
        return high * self.gate(low)
