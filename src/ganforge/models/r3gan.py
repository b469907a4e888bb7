"""R3GAN players (Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN!").

A modernised StyleGAN2 backbone without its tricks: stages of normalisation-free grouped bottleneck
blocks (`nn.bottleneck`), fixed [1, 2, 1] low-pass resampling between stages with a 1×1 convolution
where the width changes, and no normalisation, styles, noise or minibatch statistics. G maps z (joined
to a class embedding when conditional) linearly to the scales of a learned 4×4 basis; D mirrors G and
ends in a depthwise 4×4 convolution and a linear layer, conditioned by projection (Miyato & Koyama
2018). `widths` lists the channels of each stage from 4×4 up to the image size, for both players.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.bottleneck import BottleneckBlock, conv, he_init
from ganforge.nn.lowpass import LowPassDownsample, LowPassUpsample
from ganforge.nn.resolution import level_of

__all__ = ["R3GANGenerator", "R3GANDiscriminator", "stage_widths"]


def stage_widths(image_size: int, widths: Optional[Sequence[int]]) -> list[int]:
    """The channels of each stage from 4×4 to `image_size`; None: a small CPU network (96 up to 16 px, then halving)."""
    if image_size not in (8, 16, 32, 64, 128, 256, 512, 1024):
        raise GanforgeError(f"Image size {image_size} is not supported by R3GAN; expected a power of two from 8 to 1024.")
    stages = level_of(image_size) + 1
    if widths is None:
        return [max(96 * 16 // max(4 * 2 ** s, 16), 16) for s in range(stages)]
    widths = [int(w) for w in widths]
    if len(widths) != stages or min(widths) < 1:
        raise GanforgeError(f"R3GAN widths {widths} do not fit {image_size} px; expected {stages} positive widths, "
                            f"one per stage from 4 px to {image_size} px.")
    return widths


def _check_blocks(widths: list[int], blocks: int, group_width: int, expansion: int) -> None:
    if blocks < 1 or group_width < 1 or expansion < 1:
        raise GanforgeError(f"R3GAN blocks={blocks}, group_width={group_width}, expansion={expansion} are invalid; expected integers >= 1.")
    bad = [w for w in widths if (w * expansion) % group_width]
    if bad:
        raise GanforgeError(f"R3GAN widths {bad} times expansion {expansion} are not multiples of group_width={group_width}; "
                            "expected widths whose inner width splits into groups of that many channels.")


def _blocks(width: int, blocks: int, group_width: int, expansion: int, total: int) -> list[nn.Module]:
    return [BottleneckBlock(width, group_width, expansion, total) for _ in range(blocks)]


class R3GANGenerator(Configurable):
    """G(z, c): z (with a class embedding) → scales of a learned 4×4 basis → stages of bottleneck blocks → 1×1 conv to pixels."""

    def __init__(self, z_dim: int = 64, channels: int = 1, image_size: int = 32, widths: Optional[Sequence[int]] = None,
                 blocks: int = 2, group_width: int = 16, expansion: int = 2, num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        widths = stage_widths(image_size, widths)
        _check_blocks(widths, blocks, group_width, expansion)
        self.z_dim, self.num_classes, self.image_size, self.channels = z_dim, num_classes, image_size, channels
        total = blocks * len(widths)
        embed = (embed_dim or z_dim) if num_classes > 0 else 0
        self.embed = nn.Embedding(num_classes, embed) if num_classes > 0 else None
        if self.embed is not None:  # a bias-free linear layer on one-hot labels, He-initialised
            nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(num_classes))
        self.to_scales = he_init(nn.Linear(z_dim + embed, widths[0], bias=False))
        self.basis = nn.Parameter(torch.randn(widths[0], 4, 4))
        stages = []
        for i, width in enumerate(widths):
            layers: list[nn.Module] = []
            if i > 0:
                if widths[i - 1] != width:
                    layers.append(conv(widths[i - 1], width, 1))
                layers.append(LowPassUpsample())
            stages.append(nn.Sequential(*layers, *_blocks(width, blocks, group_width, expansion, total)))
        self.stages = nn.ModuleList(stages)
        self.to_pixels = conv(widths[-1], channels, 1)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Images (N, C, S, S), unbounded (about [-1, 1] once trained; no tanh, as in the paper)."""
        if self.embed is not None:
            if labels is None:
                raise GanforgeError("This R3GAN generator is class-conditional; expected labels with the noise.")
            z = torch.cat([z, self.embed(labels)], dim=1)
        x = self.basis.unsqueeze(0) * self.to_scales(z).view(z.shape[0], -1, 1, 1)
        for stage in self.stages:
            x = stage(x)
        return self.to_pixels(x)


class R3GANDiscriminator(Configurable):
    """D(x, c): 1×1 conv from pixels → stages of bottleneck blocks down to 4×4 → depthwise 4×4 conv → linear;
    with classes, the score is the projection of the features on a class embedding."""

    def __init__(self, channels: int = 1, image_size: int = 32, widths: Optional[Sequence[int]] = None, blocks: int = 2,
                 group_width: int = 16, expansion: int = 2, num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        widths = stage_widths(image_size, widths)[::-1]  # G's stages in reverse: from the image size down to 4 px
        _check_blocks(widths, blocks, group_width, expansion)
        self.num_classes = num_classes
        total = blocks * len(widths)
        self.from_pixels = conv(channels, widths[0], 1)
        stages = []
        for i, width in enumerate(widths[:-1]):
            layers = [*_blocks(width, blocks, group_width, expansion, total), LowPassDownsample()]
            if widths[i + 1] != width:
                layers.append(conv(width, widths[i + 1], 1))
            stages.append(nn.Sequential(*layers))
        last = widths[-1]
        stages.append(nn.Sequential(*_blocks(last, blocks, group_width, expansion, total)))
        self.stages = nn.ModuleList(stages)
        self.basis = he_init(nn.Conv2d(last, last, 4, groups=last, bias=False))
        embed = (embed_dim or last) if num_classes > 0 else 0
        self.to_score = he_init(nn.Linear(last, embed or 1, bias=False))
        self.embed = nn.Embedding(num_classes, embed) if num_classes > 0 else None
        if self.embed is not None:  # projection: He's std for one-hot inputs, times 1/√embed
            nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(embed * num_classes))

    def forward(self, images: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Logits (N,)."""
        x = self.from_pixels(images)
        for stage in self.stages:
            x = stage(x)
        # the depthwise 4×4 convolution of a 4×4 map, as per-channel dot products: the same sums, without the
        # CPU double backward's loop over channels (docs/r3gan.md, "What is measured")
        x = self.to_score(torch.einsum("nchw,chw->nc", x, self.basis.weight[:, 0].to(x.dtype)))
        if self.embed is None:
            return x.flatten()
        if labels is None:
            raise GanforgeError("This R3GAN discriminator is class-conditional; expected labels with the images.")
        return (x * self.embed(labels)).sum(dim=1)
