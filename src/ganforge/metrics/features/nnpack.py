"""Fewer multiplications for the 3x3 and 5x5 convolutions of a feature network on CPU: NNPACK's fast algorithms.

NNPACK (Dukhan, built into PyTorch's CPU wheels) computes a stride-1 convolution with Winograd's minimal
filtering F(6x6, 3x3) for 3x3 kernels (Lavin & Gray 2016) and with 8x8/16x16 FFT tiles for larger ones:
several times fewer multiplications than the direct method, in fp32, at a rounding error of a few 1e-6
relative per layer. It pays on maps of at least 16 px with at least 48 input channels (InceptionV3's
35x35 and 73x73 stages); on fewer channels or small maps the transforms cost more than they save, so
those convolutions, and every one on other devices, in bf16, or without NNPACK, stay as they were.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

MIN_CHANNELS = 48  #: fewer input channels: the tile transforms outweigh the saved multiplications
MIN_SIZE = 16  #: smaller maps: mostly padding inside the 8x8 tiles
KERNELS = ((3, 3), (5, 5))


def available() -> bool:
    """Whether this torch build carries NNPACK and it runs on this CPU."""
    return hasattr(torch, "_nnpack_spatial_convolution") and bool(torch._nnpack_available())


def eligible(conv: nn.Conv2d) -> bool:
    """A stride-1, undilated, ungrouped, zero-padded 3x3 or 5x5 convolution on enough input channels."""
    return (type(conv) is nn.Conv2d and tuple(conv.kernel_size) in KERNELS and tuple(conv.stride) == (1, 1)
            and tuple(conv.dilation) == (1, 1) and conv.groups == 1 and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple) and conv.in_channels >= MIN_CHANNELS)


class NNPACKConv2d(nn.Module):
    """`conv` computed by NNPACK on CPU fp32 maps of at least MIN_SIZE px, by `conv` itself otherwise; output channels_last."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv
        self.padding = [int(p) for p in conv.padding]

    def forward(self, x: Tensor) -> Tensor:
        """The convolution of x (under tracing the choice is fixed for the traced map size; both give the same numbers)."""
        if x.device.type != "cpu" or x.dtype != torch.float32 or min(x.shape[-2:]) < MIN_SIZE:
            return self.conv(x)
        bias = self.conv.bias if self.conv.bias is not None else x.new_zeros(self.conv.out_channels)
        y = torch._nnpack_spatial_convolution(x.contiguous(), self.conv.weight.contiguous(), bias, self.padding)
        return y.contiguous(memory_format=torch.channels_last)


def use_nnpack(model: nn.Module) -> nn.Module:
    """`model` with each eligible convolution wrapped in NNPACKConv2d (in place); unchanged when NNPACK is unavailable."""
    if not available():
        return model
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and eligible(child):
                setattr(parent, name, NNPACKConv2d(child))
    return model
