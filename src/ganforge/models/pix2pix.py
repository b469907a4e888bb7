"""pix2pix players (Isola et al. 2017): a U-Net translator and a conditional PatchGAN discriminator.

The generator is an encoder-decoder with skip connections (Ronneberger et al. 2015): every encoder
layer i is concatenated to decoder layer n-i, so low-level structure shared by input and output
(edges, layout) reaches the output without passing through the bottleneck. Its noise is dropout in the
first decoder blocks, kept on when sampling, as the paper does. The discriminator scores overlapping
patches of the input and output concatenated (70x70 patches with three strided layers).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.init import normal_init
from ganforge.nn.patchgan import patchgan_layers, receptive_field

NORMS = ("batch", "instance")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """BatchNorm2d or affine InstanceNorm2d over `channels` (the paper's choices)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise GanforgeError(f"Norm {kind!r} is unknown; expected one of {', '.join(NORMS)}.")


def auto_depth(image_size: int, max_down: int = 8) -> int:
    """Downsamplings of a U-Net for `image_size`: halve while the side stays a whole number, at most `max_down`.

    8 at 256 px (down to 1x1, the paper's generator), 5 at 32 px, 7 at 128 px; 2 at 28 px.
    """
    depth = 0
    while depth < max_down and image_size % (2 ** (depth + 1)) == 0:
        depth += 1
    return depth


class UNetGenerator(Configurable):
    """U-Net G: input image (B, in_channels, H, W) in [-1, 1] -> output image (B, out_channels, H, W).

    Encoder: `n_down` 4x4 stride-2 convolutions, C64-C128-C256-C512-C512... (channels `width`·2^i, at most
    8·`width`), leaky ReLU 0.2, norm on all but the first and the innermost (1x1 at full depth). Decoder:
    4x4 stride-2 transposed convolutions, each fed the previous decoder output concatenated with the
    mirrored encoder output, norm and ReLU; dropout `dropout` in the first `n_dropout` decoder blocks;
    tanh output. With `sample_dropout` the dropout also acts in eval mode (the paper's noise at test time).
    Fully convolutional: any H, W divisible by `size_multiple` (2 ** n_down) work.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, n_down: int = 8,
                 norm: str = "batch", dropout: float = 0.5, n_dropout: int = 3, sample_dropout: bool = True):
        super().__init__()
        if in_channels < 1 or out_channels < 1 or width < 1 or n_down < 1:
            raise GanforgeError(f"UNetGenerator sizes in_channels={in_channels}, out_channels={out_channels}, width={width}, "
                                f"n_down={n_down} are invalid; expected positive integers.")
        if not 0 <= dropout < 1 or n_dropout < 0:
            raise GanforgeError(f"UNetGenerator dropout={dropout}, n_dropout={n_dropout} are invalid; "
                                "expected 0 <= dropout < 1 and n_dropout >= 0.")
        norm_layer(norm, 1)  # validates the name
        self.in_channels, self.out_channels = in_channels, out_channels
        self.size_multiple = 2 ** n_down
        self.dropout, self.n_dropout, self.sample_dropout = float(dropout), min(n_dropout, n_down - 1), sample_dropout
        ch = [width * min(2 ** i, 8) for i in range(n_down)]
        down: list[nn.Module] = []
        for i in range(n_down):
            source = in_channels if i == 0 else ch[i - 1]
            innermost, first = i == n_down - 1, i == 0
            layers: list[nn.Module] = [nn.Conv2d(source, ch[i], 4, stride=2, padding=1, bias=first or innermost)]
            if not (first or innermost):
                layers.append(norm_layer(norm, ch[i]))
            # encoder activations are leaky; the bottleneck feeds the decoder, whose activations are ReLUs
            layers.append(nn.ReLU(inplace=True) if innermost and n_down > 1 else nn.LeakyReLU(0.2, inplace=True))
            down.append(nn.Sequential(*layers))
        up: list[nn.Module] = []
        for j in range(n_down):
            level = n_down - 1 - j  # encoder level mirrored by this decoder block's input
            source = ch[level] if j == 0 else 2 * ch[level]
            if j == n_down - 1:
                up.append(nn.Sequential(nn.ConvTranspose2d(source, out_channels, 4, stride=2, padding=1), nn.Tanh()))
            else:
                up.append(nn.Sequential(nn.ConvTranspose2d(source, ch[level - 1], 4, stride=2, padding=1, bias=False),
                                        norm_layer(norm, ch[level - 1])))
        self.down, self.up = nn.ModuleList(down), nn.ModuleList(up)
        normal_init(self)

    def forward(self, x: Tensor) -> Tensor:
        """The translated images, in [-1, 1]."""
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        drop = self.dropout > 0 and (self.training or self.sample_dropout)
        last = len(self.up) - 1
        for j, block in enumerate(self.up):
            if j > 0:
                h = torch.cat([h, skips[last - j]], dim=1)
            h = block(h)
            if j < last:
                if drop and j < self.n_dropout:
                    h = F.dropout(h, self.dropout, training=True)
                h = F.relu_(h)
        return h


class PatchGANDiscriminator(Configurable):
    """Conditional PatchGAN D: (input, output) pair -> (B, 1, h, w) map of raw realness scores, one per patch.

    C64-C128-C256-C512 with `n_layers`=3: `n_layers` 4x4 stride-2 convolutions (the first without norm),
    one 4x4 stride-1 layer, a 1-channel 4x4 output; leaky ReLU 0.2. `channels` counts the concatenated
    pair's channels (input + output), or the output's alone for an unconditional critic.
    """

    def __init__(self, channels: int = 6, width: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        self.net = patchgan_layers(channels, width, n_layers, lambda c: norm_layer(norm, c), "PatchGANDiscriminator")
        self.receptive_field = receptive_field(n_layers)
        normal_init(self)

    def forward(self, x: Tensor) -> Tensor:
        """Raw (logit-like) realness scores per patch of the concatenated pair `x`."""
        return self.net(x)

