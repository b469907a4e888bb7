"""CycleGAN players (Zhu et al. 2017): a ResNet-style translator and a PatchGAN discriminator.

The generator follows Johnson et al. (2016): a 7x7 stem, stride-2 downsampling, residual blocks, transposed-
convolution upsampling and a 7x7 tanh head, with reflection padding and instance norm. The discriminator is
the PatchGAN of Isola et al. (2017): it scores overlapping patches (70x70 with three strided layers).
"""
from __future__ import annotations

from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.init import normal_init
from ganforge.nn.patchgan import patchgan_layers
from ganforge.nn.residual import ResidualBlock, conv_norm_relu


class ResnetGenerator(Configurable):
    """Translator G: image (B, C, H, W) in [-1, 1] -> image of the same shape in the other domain.

    Fully convolutional: any H and W divisible by `size_multiple` (2 ** n_down) work, whatever the
    size it was trained at.
    """

    def __init__(self, channels: int = 3, width: int = 64, n_res_blocks: int = 9, n_down: int = 2):
        super().__init__()
        if channels < 1 or width < 1 or n_res_blocks < 0 or n_down < 0:
            raise GanforgeError(f"ResnetGenerator sizes channels={channels}, width={width}, n_res_blocks={n_res_blocks}, "
                                f"n_down={n_down} are invalid; expected positive channels and width, non-negative counts.")
        self.channels = channels
        self.size_multiple = 2 ** n_down
        layers = conv_norm_relu(channels, width, 7)
        ch = width
        for _ in range(n_down):
            layers += conv_norm_relu(ch, 2 * ch, 3, stride=2, reflect=False)
            ch *= 2
        layers += [ResidualBlock(ch) for _ in range(n_res_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=False),
                       nn.InstanceNorm2d(ch // 2, affine=True), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init(self, unit_norm_scales=True)

    def forward(self, x: Tensor) -> Tensor:
        """The translated images, in [-1, 1]."""
        return self.net(x)


class PatchDiscriminator(Configurable):
    """PatchGAN D: image -> (B, 1, h, w) map of raw scores, one per overlapping input patch."""

    def __init__(self, channels: int = 3, width: int = 64, n_layers: int = 3):
        super().__init__()
        self.net = patchgan_layers(channels, width, n_layers, lambda c: nn.InstanceNorm2d(c, affine=True), "PatchDiscriminator")
        normal_init(self, unit_norm_scales=True)

    def forward(self, x: Tensor) -> Tensor:
        """Raw (logit-like) realness scores per patch."""
        return self.net(x)
