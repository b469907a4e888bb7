"""Minibatch standard deviation (Karras et al. 2018): lets the discriminator see the variety of a batch."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def group_size_for(batch: int, group_size: int) -> int:
    """The largest group size <= `group_size` that divides `batch`."""
    g = max(1, min(group_size, batch))
    while batch % g:
        g -= 1
    return g


class MinibatchStd(nn.Module):
    """Appends feature maps holding the mean standard deviation of features across groups of samples.

    Samples are split into groups of `group_size` (or the largest divisor of the batch below it); each
    group's per-feature standard deviation is averaged over channels and pixels into `num_channels`
    extra constant maps, the same for every sample of the group.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.num_channels, self.eps = group_size, num_channels, eps

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C + num_channels, H, W)."""
        n, c, h, w = x.shape
        g = group_size_for(n, self.group_size)
        f = self.num_channels
        y = x.float().reshape(g, n // g, f, c // f, h, w)  # sample i belongs to group i % (n // g)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + self.eps).sqrt()  # (n//g, f, c//f, h, w)
        y = y.mean(dim=(2, 3, 4))  # (n//g, f)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w).to(x.dtype)  # (n, f, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"
