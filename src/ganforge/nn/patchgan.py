"""The PatchGAN discriminator body (Isola et al. 2017), shared by pix2pix and CycleGAN."""
from __future__ import annotations

from typing import Callable

from torch import nn

from ganforge.errors import GanforgeError


def patch_map_size(image_size: int, n_layers: int) -> int:
    """Side of the PatchGAN score map for square inputs of `image_size` (< 1: the input is too small)."""
    size = image_size
    for _ in range(n_layers):
        size //= 2  # k4 s2 p1
    return size - 2  # two k4 s1 p1 layers each take one pixel off


def receptive_field(n_layers: int) -> int:
    """Side in pixels of the input patch one PatchGAN output sees: 70 for 3 strided layers, 34 for 2, 16 for 1."""
    field = 1
    for stride in [1, 1] + [2] * n_layers:  # from the output back: two stride-1 layers, then the strided ones
        field = (field - 1) * stride + 4
    return field


def patchgan_layers(channels: int, width: int, n_layers: int, norm: Callable[[int], nn.Module], who: str) -> nn.Sequential:
    """C64-C128-C256-C512 for `n_layers` = 3: `n_layers` 4x4 stride-2 convolutions (the first without norm,
    widths `width`·2^i up to 8·`width`), one 4x4 stride-1 layer, a 1-channel 4x4 output; leaky ReLU 0.2."""
    if channels < 1 or width < 1 or n_layers < 1:
        raise GanforgeError(f"{who} sizes channels={channels}, width={width}, n_layers={n_layers} "
                            "are invalid; expected positive integers.")
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
    ch = width
    for i in range(1, n_layers + 1):
        out = width * min(2 ** i, 8)
        layers += [nn.Conv2d(ch, out, 4, stride=2 if i < n_layers else 1, padding=1, bias=False),
                   norm(out), nn.LeakyReLU(0.2, inplace=True)]
        ch = out
    layers.append(nn.Conv2d(ch, 1, 4, stride=1, padding=1))
    return nn.Sequential(*layers)
