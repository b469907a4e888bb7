"""How a style vector w steers a convolution: AdaIN (Karras et al. 2019), weight modulation and
demodulation (Karras et al. 2020), and per-pixel noise inputs."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.nn.equalized import EqualLinear

NOISE_MODES = ("random", "const", "none")


class NoiseInjection(nn.Module):
    """Adds single-channel per-pixel Gaussian noise, scaled by a learned per-channel weight (zero at start).

    Modes: "random" draws fresh noise from the global torch RNG, "const" uses a fixed map stored in the
    module (reproducible images), "none" adds nothing. A call without a mode uses `default_mode`.
    """

    def __init__(self, channels: int, resolution: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.default_mode = "random"

    def draw(self, x: Tensor, mode: str | None = None) -> Tensor | None:
        """The single-channel noise map for features `x` under `mode` (None for "none")."""
        mode = mode or self.default_mode
        if mode == "none":
            return None
        if mode == "const":
            return self.noise_const.to(x.dtype)
        return torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)

    def forward(self, x: Tensor, mode: str | None = None) -> Tensor:
        """x + weight · noise."""
        noise = self.draw(x, mode)
        return x if noise is None else x + noise * self.weight.view(1, -1, 1, 1).to(x.dtype)


class AdaIN(nn.Module):
    """Adaptive instance normalization: normalize each feature map, then scale and shift it by a style from w."""

    def __init__(self, channels: int, w_dim: int, eps: float = 1e-8):
        super().__init__()
        self.affine = EqualLinear(w_dim, 2 * channels, bias=True)
        with torch.no_grad():
            self.affine.bias[:channels].fill_(1.0)  # scale starts at 1, shift at 0
        self.channels, self.eps = channels, eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """y_s · (x - μ(x)) / σ(x) + y_b, per sample and channel."""
        style = self.affine(w).to(x.dtype)
        scale, shift = style[:, :self.channels, None, None], style[:, self.channels:, None, None]
        mean = x.mean(dim=(2, 3), keepdim=True)
        centered = x - mean
        normed = centered * (centered.square().mean(dim=(2, 3), keepdim=True) + self.eps).rsqrt()
        return normed * scale + shift


class ModulatedConv2d(nn.Module):
    """A same-padded convolution whose input channels are scaled per sample by a style from w, and whose
    outputs are optionally demodulated back to unit variance (Karras et al. 2020).

    Computed without per-sample weights: scaling the input by s, convolving with the shared weight and
    scaling the output by the demodulation factor is the same linear map as convolving with s·W/‖s·W‖.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int,
                 demodulate: bool = True, upsample: bool = False, eps: float = 1e-8):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.affine = EqualLinear(w_dim, in_channels, bias=True, bias_init=1.0)
        self.weight_gain = 1.0 / (in_channels * kernel_size * kernel_size) ** 0.5
        self.padding = kernel_size // 2
        self.demodulate, self.upsample, self.eps = demodulate, upsample, eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """conv(x · s(w), W) · d, with d = 1/‖s·W‖ per output channel when demodulating."""
        out, demod = self.conv_and_demod(x, w)
        return out if demod is None else out * demod.to(out.dtype)[:, :, None, None]

    def conv_and_demod(self, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor | None]:
        """conv(x · s(w), W) and the demodulation factors d (B, out) in fp32 (None without demodulation), kept
        apart so that a caller can fold d into its next elementwise pass."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        styles = self.affine(w)  # (B, in)
        weight = self.weight * self.weight_gain
        out = F.conv2d(x * styles.to(x.dtype)[:, :, None, None], weight, padding=self.padding)
        if not self.demodulate:
            return out, None
        energy = weight.square().sum(dim=(2, 3))  # (out, in)
        return out, (styles.float().square() @ energy.float().t() + self.eps).rsqrt()

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, demodulate={self.demodulate}, upsample={self.upsample}"
