"""A two-path 2× downsampling block (Liu et al. 2021, FastGAN's discriminator): strided convolutions beside an
average-pooled 1×1 shortcut, averaged."""
from __future__ import annotations

from torch import Tensor, nn


class TwoPathDown(nn.Module):
    """(conv4×4/2 → BN → LReLU → conv3×3 → BN → LReLU  +  avgpool2 → conv1×1 → BN → LReLU) / 2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False), nn.BatchNorm2d(out_channels),
                                  nn.LeakyReLU(0.2), nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(in_channels, out_channels, 1, 1, 0, bias=False),
                                      nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        """Features at half the size of `x`, `out_channels` deep."""
        return (self.main(x) + self.shortcut(x)) / 2
