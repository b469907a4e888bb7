"""Fixed low-pass resampling by 2 with a separable binomial filter ([1, 2, 1] by default), as in R3GAN and StyleGAN2."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def lowpass_kernel(taps: Sequence[float] = (1, 2, 1)) -> Tensor:
    """The 2-D filter outer(taps, taps), normalised to sum to 1 (a low-pass that keeps a constant image)."""
    t = torch.as_tensor(taps, dtype=torch.float32)
    kernel = torch.outer(t, t)
    return kernel / kernel.sum()


class _Resample(nn.Module):
    def __init__(self, taps: Sequence[float]):
        super().__init__()
        if len(taps) != 3:
            raise ValueError(f"taps {list(taps)} are not supported; expected three (e.g. [1, 2, 1])")
        self.register_buffer("kernel", lowpass_kernel(taps), persistent=False)

    def _depthwise(self, x: Tensor, scale: float) -> Tensor:
        return (self.kernel * scale).to(x.dtype).expand(x.shape[1], 1, 3, 3)


class LowPassUpsample(_Resample):
    """Doubles height and width: zeros between the pixels, then the low-pass filter (×4 to keep the mean).

    With [1, 2, 1] this is bilinear interpolation; nothing is learned.
    """

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, 2H, 2W) from (N, C, H, W)."""
        return F.conv_transpose2d(x, self._depthwise(x, 4.0), stride=2, padding=1, output_padding=1, groups=x.shape[1])


class LowPassDownsample(_Resample):
    """Halves height and width: the low-pass filter, then every second pixel; nothing is learned."""

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H/2, W/2) from (N, C, H, W)."""
        return F.conv2d(x, self._depthwise(x, 1.0), stride=2, padding=1, groups=x.shape[1])
