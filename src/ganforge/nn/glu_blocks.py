"""Upsampling blocks with gated linear units (Dauphin et al. 2017), as FastGAN's generator and decoders use
them (Liu et al. 2021): nearest 2× upsampling, a 3×3 convolution to twice the channels, BatchNorm, GLU."""
from __future__ import annotations

from torch import nn

from ganforge.nn.style import NoiseInjection


def glu_conv(in_channels: int, out_channels: int, noise_resolution: int = 0) -> list[nn.Module]:
    """3×3 conv to 2·out channels, per-pixel noise when `noise_resolution` > 0, BatchNorm, GLU over channels."""
    noise: list[nn.Module] = [NoiseInjection(2 * out_channels, noise_resolution)] if noise_resolution > 0 else []
    return [nn.Conv2d(in_channels, 2 * out_channels, 3, 1, 1, bias=False), *noise,
            nn.BatchNorm2d(2 * out_channels), nn.GLU(dim=1)]


def glu_upsample(in_channels: int, out_channels: int, resolution: int = 0, twice: bool = False) -> nn.Sequential:
    """Nearest 2× upsampling then one GLU conv; with `twice`, a second one, each with noise at `resolution` (the
    output size), as the paper's deeper block at every other resolution."""
    if not twice:
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *glu_conv(in_channels, out_channels))
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *glu_conv(in_channels, out_channels, resolution),
                         *glu_conv(out_channels, out_channels, resolution))
