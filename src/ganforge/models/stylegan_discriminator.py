"""The StyleGAN discriminator: the mirror of the grown generator, with minibatch standard deviation
(Karras et al. 2018) and, for class-conditional training, a projection of a class embedding
(Miyato & Koyama 2018, as used by Karras et al. 2020a)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.models.stylegan_synthesis import channels_at
from ganforge.nn import Configurable
from ganforge.nn.equalized import EqualConv2d, EqualLinear
from ganforge.nn.minibatch_std import MinibatchStd
from ganforge.nn.resolution import level_of


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions with lrelu, then 2x average-pool downsampling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activate=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activate=True)

    def forward(self, x: Tensor) -> Tensor:
        """Features at half the resolution."""
        return F.avg_pool2d(self.conv1(self.conv0(x)), 2)


class StyleGANDiscriminator(Configurable):
    """D: fromRGB at the input's level, blocks down to 4x4, minibatch stddev, conv and two dense layers.

    Accepts images at any level's resolution (4x4 up to `image_size`); `alpha` < 1 blends in the
    half-resolution path while a level fades in.  Returns logits (N,).
    """

    def __init__(self, channels: int = 1, image_size: int = 32, num_classes: int = 0,
                 channel_base: int = 512, channel_max: int = 64, mbstd_group: int = 4, cmap_dim: int = 0):
        super().__init__()
        self.final_level = level_of(image_size)
        self.num_classes = num_classes
        widths = [channels_at(4 * 2 ** lvl, channel_base, channel_max) for lvl in range(self.final_level + 1)]
        self.from_rgb = nn.ModuleList(EqualConv2d(channels, w, 1, activate=True) for w in widths)
        self.blocks = nn.ModuleList([nn.Identity()] + [DiscriminatorBlock(widths[lvl], widths[lvl - 1])
                                                       for lvl in range(1, self.final_level + 1)])
        c0 = widths[0]
        self.mbstd = MinibatchStd(mbstd_group, 1)
        self.conv = EqualConv2d(c0 + 1, c0, 3, activate=True)
        self.fc = EqualLinear(c0 * 16, c0, activate=True)
        self.cmap_dim = (cmap_dim or c0) if num_classes > 0 else 0
        self.out = EqualLinear(c0, self.cmap_dim or 1)
        self.embed = EqualLinear(num_classes, self.cmap_dim) if num_classes > 0 else None

    def forward(self, images: Tensor, labels: Optional[Tensor] = None, alpha: float = 1.0) -> Tensor:
        """Logits (N,) for images at some level's resolution."""
        level = level_of(images.shape[-1])
        if level > self.final_level:
            raise ValueError(f"images of {images.shape[-1]} px exceed this discriminator's {4 * 2 ** self.final_level} px")
        x = self.from_rgb[level](images)
        if level > 0:
            x = self.blocks[level](x)
            if alpha < 1.0:
                skip = self.from_rgb[level - 1](F.avg_pool2d(images, 2))
                x = torch.lerp(skip.to(x.dtype), x, alpha)
            for lvl in range(level - 1, 0, -1):
                x = self.blocks[lvl](x)
        x = self.conv(self.mbstd(x))
        x = self.out(self.fc(x.flatten(1)))
        if self.embed is None:
            return x.flatten()
        if labels is None:
            raise ValueError("this discriminator is conditional; expected class labels")
        cmap = self.embed(F.one_hot(labels.long(), self.num_classes).to(x.dtype))
        return (x * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)
