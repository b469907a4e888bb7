"""Fixed low-pass resampling by 2 with a separable binomial filter ([1, 2, 1] by default), as in R3GAN and StyleGAN2.

Each direction is one depthwise forward convolution (upsampling: zeros between the pixels, then the filter).
Where a gradient is taken, the two run as a pair of autograd functions, each the other's exact adjoint, so
every backward, R1's and R2's double backward included, is again one depthwise forward convolution: on the
CPU, PyTorch's `convolution_backward` of a depthwise convolution is slow and its double backward loops over
the channels (docs/r3gan.md, "What is measured").
"""
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


def _depthwise(kernel: Tensor, x: Tensor) -> Tensor:
    return kernel.to(x.dtype).expand(x.shape[1], 1, *kernel.shape)


def _decimate(x: Tensor, kernel: Tensor) -> Tensor:
    """Each channel filtered by the fixed 3×3 `kernel` (zero padding), then every second pixel."""
    return F.conv2d(x, _depthwise(kernel, x), stride=2, padding=1, groups=x.shape[1])


def _interpolate(x: Tensor, kernel: Tensor, size: Sequence[int]) -> Tensor:
    """The adjoint of `_decimate` onto images of `size`: zeros between the pixels, then `kernel`."""
    spread = x.new_zeros(*x.shape[:2], *size)  # conv_transpose2d's CPU depthwise kernel is slower than this
    spread[..., ::2, ::2] = x
    return F.conv2d(spread, _depthwise(kernel.flip(0, 1), x), padding=1, groups=x.shape[1])


class _Decimate(torch.autograd.Function):
    """`_decimate` whose gradient is `_Interpolate` (for a fixed kernel: no gradient reaches it)."""

    @staticmethod
    def forward(ctx, x: Tensor, kernel: Tensor) -> Tensor:
        ctx.save_for_backward(kernel)
        ctx.size = tuple(x.shape[-2:])
        return _decimate(x, kernel)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (kernel,) = ctx.saved_tensors
        return _Interpolate.apply(grad, kernel, ctx.size), None


class _Interpolate(torch.autograd.Function):
    """`_interpolate` whose gradient is `_Decimate`."""

    @staticmethod
    def forward(ctx, x: Tensor, kernel: Tensor, size: tuple[int, int]) -> Tensor:
        ctx.save_for_backward(kernel)
        return _interpolate(x, kernel, size)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (kernel,) = ctx.saved_tensors
        return _Decimate.apply(grad, kernel), None, None


def _differentiated(x: Tensor) -> bool:
    """Whether autograd records `x`'s graph here (not under no_grad, torch.export or ONNX export)."""
    return torch.is_grad_enabled() and x.requires_grad and not torch.compiler.is_exporting()


class _Resample(nn.Module):
    def __init__(self, taps: Sequence[float]):
        super().__init__()
        if len(taps) != 3:
            raise ValueError(f"taps {list(taps)} are not supported; expected three (e.g. [1, 2, 1])")
        self.register_buffer("kernel", lowpass_kernel(taps), persistent=False)


class LowPassUpsample(_Resample):
    """Doubles height and width: zeros between the pixels, then the low-pass filter (×4 to keep the mean).

    With [1, 2, 1] this is bilinear interpolation; nothing is learned.
    """

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, 2H, 2W) from (N, C, H, W)."""
        kernel, size = self.kernel * 4.0, (2 * x.shape[-2], 2 * x.shape[-1])
        return _Interpolate.apply(x, kernel, size) if _differentiated(x) else _interpolate(x, kernel, size)


class LowPassDownsample(_Resample):
    """Halves height and width: the low-pass filter, then every second pixel; nothing is learned."""

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H/2, W/2) from (N, C, H, W)."""
        return _Decimate.apply(x, self.kernel) if _differentiated(x) else _decimate(x, self.kernel)
