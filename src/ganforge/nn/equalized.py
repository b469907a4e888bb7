"""Equalized learning rate layers (Karras et al. 2018): weights stored at unit scale, scaled at run time.

A weight drawn from N(0, 1) and multiplied by 1/sqrt(fan_in) on every forward gives every layer the
same effective learning rate under Adam.  A learning-rate multiplier `lr_mul` (Karras et al. 2019,
used for the mapping network) stores the weights 1/lr_mul larger and multiplies them back at run
time, which slows their effective learning rate by lr_mul.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2.0)


def activation_gain(activate: bool) -> float:
    """The factor a layer folds into its weight and bias so that a bare leaky ReLU (slope 0.2) of its output is
    lrelu, the leaky ReLU scaled by sqrt(2) that keeps activations at unit variance.

    leaky_relu(a)·g = leaky_relu(a·g) for g > 0, so scaling the (small) weight and bias spares a pass over the activations.
    """
    return LRELU_GAIN if activate else 1.0


def pixel_norm(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Each vector along `dim` divided by its root mean square (Karras et al. 2018)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """A linear layer with equalized learning rate, a learning-rate multiplier and an optional lrelu."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        """x @ (gain · W)ᵀ + lr_mul · b, then lrelu when `activate`."""
        act = activation_gain(self.activate)
        bias = self.bias * (self.lr_mul * act) if self.bias is not None else None
        out = F.linear(x, self.weight * (self.weight_gain * act), bias)
        return F.leaky_relu(out, 0.2) if self.activate else out

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, lr_mul={self.lr_mul}, activate={self.activate}"


class EqualConv2d(nn.Module):
    """A same-padded convolution with equalized learning rate and an optional lrelu."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        """conv(x, gain · W) + b, then lrelu when `activate`."""
        act = activation_gain(self.activate)
        bias = None if self.bias is None else self.bias * act
        out = F.conv2d(x, self.weight * (self.weight_gain * act), bias, padding=self.padding)
        return F.leaky_relu(out, 0.2) if self.activate else out

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, activate={self.activate}"
