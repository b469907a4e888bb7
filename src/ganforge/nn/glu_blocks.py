"""Upsampling blocks with gated linear units (Dauphin et al. 2017), as FastGAN's generator and decoders use
them (Liu et al. 2021): nearest 2× upsampling, a 3×3 convolution to twice the channels, BatchNorm, GLU."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.nn.style import NoiseInjection


def memory_format_of(x: Tensor) -> torch.memory_format:
    """channels_last for a 4-d tensor laid out NHWC (and not also NCHW), contiguous_format otherwise."""
    nhwc = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if nhwc else torch.contiguous_format


class ChannelGLU(nn.Module):
    """a · σ(b) for a, b the two channel halves, as `nn.GLU(dim=1)`, with output and gradients in the input's layout.

    On a CPU, `nn.GLU`'s backward hands a channels-last input a plain contiguous gradient, which sends the BatchNorm
    before it down a slow mixed-layout path (3–16× slower a call; docs/fastgan.md, "A faster round"); the halves are
    made dense in the input's layout before σ, which is slow on strided views too. Parameter-free, so checkpoints of
    `nn.GLU` players load unchanged.
    """

    def forward(self, x: Tensor) -> Tensor:
        """(N, 2C, H, W) → (N, C, H, W), in x's memory format."""
        layout = memory_format_of(x)
        a, b = x.chunk(2, dim=1)
        return a.contiguous(memory_format=layout) * torch.sigmoid(b.contiguous(memory_format=layout))


def glu_conv(in_channels: int, out_channels: int, noise_resolution: int = 0) -> list[nn.Module]:
    """3×3 conv to 2·out channels, per-pixel noise when `noise_resolution` > 0, BatchNorm, GLU over channels."""
    noise: list[nn.Module] = [NoiseInjection(2 * out_channels, noise_resolution)] if noise_resolution > 0 else []
    return [nn.Conv2d(in_channels, 2 * out_channels, 3, 1, 1, bias=False), *noise,
            nn.BatchNorm2d(2 * out_channels), ChannelGLU()]


def glu_upsample(in_channels: int, out_channels: int, resolution: int = 0, twice: bool = False) -> nn.Sequential:
    """Nearest 2× upsampling then one GLU conv; with `twice`, a second one, each with noise at `resolution` (the
    output size), as the paper's deeper block at every other resolution."""
    if not twice:
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *glu_conv(in_channels, out_channels))
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *glu_conv(in_channels, out_channels, resolution),
                         *glu_conv(out_channels, out_channels, resolution))
