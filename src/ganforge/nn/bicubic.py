"""Keys' cubic kernel and a bicubic upscaling layer equal to MATLAB's ``imresize(x, s, 'bicubic')`` for integer `s`.

For an integer upscaling factor the taps of MATLAB's resize are periodic: output pixel s·i + p sits at
input coordinate i + (p + 0.5)/s − 0.5 and takes the inputs i − 2 … i + 2 with weights
cubic(distance) (a = −0.5). `CubicUpscale` therefore runs one depthwise 5x5 convolution with s² phase
kernels (outer products of the 1-D taps) after mirroring two pixels at each border (MATLAB's symmetric
padding), and interleaves the phases with a pixel shuffle: no resampling indices, any input size,
and ONNX-friendly (slices, a convolution and a pixel shuffle).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError

CUBIC_A = -0.5  #: the bicubic kernel's parameter in MATLAB's imresize (and Pillow's)
REACH = 2  #: input pixels on each side that an upscaled output pixel reads


def cubic(x: Tensor, a: float = CUBIC_A) -> Tensor:
    """Keys' cubic convolution kernel with parameter `a` (Keys 1981): support [-2, 2], 1 at 0, 0 at other integers."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (a + 2) * ax3 - (a + 3) * ax2 + 1
    far = a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a
    return torch.where(ax <= 1, near, torch.where(ax <= 2, far, torch.zeros_like(ax)))


def upscale_taps(scale: int) -> Tensor:
    """(scale, 5) float64 weights: output phase p of input pixel i reads inputs i-2 … i+2 with row p (each row sums to one)."""
    phase = (torch.arange(scale, dtype=torch.float64) + 0.5) / scale - 0.5
    offsets = torch.arange(-REACH, REACH + 1, dtype=torch.float64)
    taps = cubic(phase[:, None] - offsets[None])
    return taps / taps.sum(1, keepdim=True)


def mirror_pad(x: Tensor, pad: int = REACH) -> Tensor:
    """(…, H, W) padded by `pad` pixels on every side with MATLAB's symmetric rule (-1 -> 0, -2 -> 1), by slices only.

    Sides of at least `pad` pixels are needed (a 1-pixel side cannot be mirrored by 2).
    """
    if min(x.shape[-2:]) < pad:
        raise GanforgeError(f"Image of {x.shape[-1]}x{x.shape[-2]} pixels is too small to upscale; expected sides of at least {pad}.")
    left = [x[..., :, i:i + 1] for i in range(pad - 1, -1, -1)]
    right = [x[..., :, -1 - i:x.shape[-1] - i] for i in range(pad)]
    x = torch.cat(left + [x] + right, dim=-1)
    top = [x[..., i:i + 1, :] for i in range(pad - 1, -1, -1)]
    bottom = [x[..., -1 - i:x.shape[-2] - i, :] for i in range(pad)]
    return torch.cat(top + [x] + bottom, dim=-2)


class CubicUpscale(nn.Module):
    """Float images (B, C, h, w) -> (B, C, h·scale, w·scale), MATLAB's bicubic upscaling (unclamped), in float32 even under autocast.

    The kernel is a non-persistent buffer: it is not part of a state dict.
    """

    def __init__(self, channels: int, scale: int):
        super().__init__()
        taps = upscale_taps(scale)
        phases = (taps[:, None, :, None] * taps[None, :, None, :]).reshape(scale * scale, 1, 5, 5)  # phase (p, q): rows p, columns q
        self.channels, self.scale = channels, scale
        self.register_buffer("kernel", phases.repeat(channels, 1, 1, 1).float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """The bicubic upscaling of `x`."""
        with torch.autocast(x.device.type, enabled=False):
            padded = mirror_pad(x.float())
            phases = F.conv2d(padded, self.kernel.to(padded.device), groups=self.channels)
            return F.pixel_shuffle(phases, self.scale)
