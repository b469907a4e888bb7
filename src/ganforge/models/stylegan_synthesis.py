"""The StyleGAN synthesis network g: per-layer styles w -> image, grown by resolution levels.

A learned 4x4 constant goes through two style layers per resolution (the first of each level above
4x4 upsamples 2x); each level has its own toRGB layer.  The network can stop at any level and fade
a new level in with α (Karras et al. 2018): image = lerp(upsample(toRGB_{l-1}), toRGB_l, α).  The
image is linear in the last toRGB, as in the papers, or optionally squashed by tanh, which makes the
flat -1 backgrounds of MNIST-like data easy to reach.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn.equalized import LRELU_GAIN, EqualConv2d
from ganforge.nn.resolution import level_of
from ganforge.nn.style import NOISE_MODES, AdaIN, ModulatedConv2d, NoiseInjection

MODULATIONS = ("adain", "demod")


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at a resolution: channel_base / resolution, capped at channel_max, at least 1."""
    return max(1, min(channel_base // resolution, channel_max))


class StyleLayer(nn.Module):
    """3x3 convolution, noise, bias and lrelu, steered by one w: through AdaIN after the activation
    (Karras et al. 2019) or through weight modulation/demodulation of the convolution (Karras et al. 2020)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, modulation: str,
                 upsample: bool, noise: bool):
        super().__init__()
        self.modulation, self.upsample = modulation, upsample
        if modulation == "demod":
            self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, upsample=upsample)
        else:
            self.conv = EqualConv2d(in_channels, out_channels, 3, bias=False)
            self.adain = AdaIN(out_channels, w_dim)
        self.noise = NoiseInjection(out_channels, resolution) if noise else None
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        """One styled layer: lrelu(conv · d + noise · weight + bias), lrelu's gain folded in (three passes over the features, not six)."""
        if self.modulation == "demod":
            x, demod = self.conv.conv_and_demod(x, w)
        else:
            if self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x, demod = self.conv(x), None
        shift = self.bias.to(x.dtype).view(1, -1, 1, 1) * LRELU_GAIN  # broadcast: x's memory format carries through
        if demod is None:
            x = torch.add(shift, x, alpha=LRELU_GAIN)
        else:
            x = torch.addcmul(shift, x, (demod * LRELU_GAIN).to(x.dtype)[:, :, None, None])
        noise = self.noise.draw(x, noise_mode) if self.noise is not None else None
        if noise is not None:
            x = x.addcmul_(noise, self.noise.weight.to(x.dtype).view(1, -1, 1, 1) * LRELU_GAIN)
        x = F.leaky_relu(x, 0.2)
        if self.modulation == "adain":
            x = self.adain(x, w)
        return x


class ToRGB(nn.Module):
    """1x1 projection to image channels: modulated without demodulation, or plain under AdaIN."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, modulation: str):
        super().__init__()
        self.modulated = modulation == "demod"
        self.conv = (ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False) if self.modulated
                     else EqualConv2d(in_channels, channels, 1, bias=False))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """Image-space output of a level."""
        x = self.conv(x, w) if self.modulated else self.conv(x)
        return x + self.bias.to(x.dtype).view(1, -1, 1, 1)


class SynthesisNetwork(nn.Module):
    """Builds every level up front; `forward(ws, level, alpha)` renders at level `level`'s resolution."""

    def __init__(self, w_dim: int, channels: int, image_size: int, channel_base: int, channel_max: int,
                 modulation: str = "demod", noise: bool = True, tanh_output: bool = False):
        super().__init__()
        if modulation not in MODULATIONS:
            raise GanforgeError(f"Modulation {modulation!r} is unknown; expected one of {', '.join(MODULATIONS)}.")
        self.final_level = level_of(image_size)
        self.image_size, self.channels, self.w_dim = image_size, channels, w_dim
        self.tanh_output = tanh_output
        self.num_ws = 2 * (self.final_level + 1)
        widths = [channels_at(4 * 2 ** lvl, channel_base, channel_max) for lvl in range(self.final_level + 1)]
        self.const = nn.Parameter(torch.randn(1, widths[0], 4, 4))
        self.layers = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        for level, width in enumerate(widths):
            res = 4 * 2 ** level
            in_width = widths[max(level - 1, 0)]
            self.layers.append(StyleLayer(in_width, width, w_dim, res, modulation, level > 0, noise))
            self.layers.append(StyleLayer(width, width, w_dim, res, modulation, False, noise))
            self.to_rgb.append(ToRGB(width, channels, w_dim, modulation))

    def forward(self, ws: Tensor, level: Optional[int] = None, alpha: float = 1.0,
                noise_mode: str = "random") -> Tensor:
        """Image (N, C, R, R) at level `level` (default: the last), blending in with α; ws is (N, num_ws, w_dim) or (N, w_dim)."""
        level = self.final_level if level is None else int(level)
        if not 0 <= level <= self.final_level:
            raise ValueError(f"level {level} is outside 0..{self.final_level}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode {noise_mode!r}; expected one of {NOISE_MODES}")
        if ws.dim() == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        x = self.const.repeat(ws.shape[0], 1, 1, 1)  # a copy: a no_grad view of a parameter upsets autograd hooks
        previous = None
        for lvl in range(level + 1):
            if lvl == level and alpha < 1.0 and lvl > 0:
                previous = self.to_rgb[lvl - 1](x, ws[:, 2 * lvl - 1])
            x = self.layers[2 * lvl](x, ws[:, 2 * lvl], noise_mode)
            x = self.layers[2 * lvl + 1](x, ws[:, 2 * lvl + 1], noise_mode)
        image = self.to_rgb[level](x, ws[:, 2 * level + 1])
        if previous is not None:
            image = torch.lerp(F.interpolate(previous, scale_factor=2, mode="nearest").to(image.dtype), image, alpha)
        return torch.tanh(image) if self.tanh_output else image

    def level_layers(self, level: int) -> list[int]:
        """Indices into ws that the level uses (its two layers; its toRGB shares the second)."""
        return [2 * level, 2 * level + 1]
