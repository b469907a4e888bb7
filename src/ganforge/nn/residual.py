"""Residual blocks with reflection padding and instance norm, as in image-translation generators."""
from __future__ import annotations

from torch import Tensor, nn


def conv_norm_relu(in_ch: int, out_ch: int, kernel: int, stride: int = 1, reflect: bool = True,
                   relu: bool = True) -> list[nn.Module]:
    """A same-size (or stride-2) convolution, instance norm and optional ReLU, as a list of layers.

    The convolution has no bias: instance norm removes each channel's mean, so a bias would be wasted.
    """
    pad = kernel // 2
    layers: list[nn.Module] = []
    if reflect and pad > 0:
        layers.append(nn.ReflectionPad2d(pad))
        pad = 0
    layers += [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=pad, bias=False),
               nn.InstanceNorm2d(out_ch, affine=True)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class ResidualBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, instance norm, ReLU, reflect-pad, 3x3 conv, instance norm)(x) (He et al. 2016).

    The residual form of Johnson et al. (2016), used by CycleGAN's generators (Zhu et al. 2017).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(*conv_norm_relu(channels, channels, 3),
                                  *conv_norm_relu(channels, channels, 3, relu=False))

    def forward(self, x: Tensor) -> Tensor:
        """The block's output, same shape as `x`."""
        return x + self.body(x)
