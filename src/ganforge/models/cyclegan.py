"""CycleGAN players (Zhu et al. 2017): a ResNet-style translator and a PatchGAN discriminator.

The generator follows Johnson et al. (2016): a 7x7 stem, stride-2 downsampling, residual blocks, transposed-
convolution upsampling and a 7x7 tanh head, with reflection padding and instance norm. The discriminator is
the PatchGAN of Isola et al. (2017): it scores overlapping patches (70x70 with three strided layers).
"""
from __future__ import annotations

from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.residual import ResidualBlock, conv_norm_relu


def gaussian_init(module: nn.Module, std: float = 0.02) -> None:
    """Convolution weights from N(0, std²), zero biases, instance-norm scales 1: the paper's initialization."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


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
        gaussian_init(self)

    def forward(self, x: Tensor) -> Tensor:
        """The translated images, in [-1, 1]."""
        return self.net(x)


def patch_output_size(image_size: int, n_layers: int) -> int:
    """Side of the PatchGAN score map for square inputs of `image_size` (< 1: the input is too small)."""
    size = image_size
    for _ in range(n_layers):
        size = size // 2  # k4 s2 p1
    return size - 2  # two k4 s1 p1 layers each take one pixel off


class PatchDiscriminator(Configurable):
    """PatchGAN D: image -> (B, 1, h, w) map of raw scores, one per overlapping input patch."""

    def __init__(self, channels: int = 3, width: int = 64, n_layers: int = 3):
        super().__init__()
        if channels < 1 or width < 1 or n_layers < 1:
            raise GanforgeError(f"PatchDiscriminator sizes channels={channels}, width={width}, n_layers={n_layers} "
                                "are invalid; expected positive integers.")
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for i in range(1, n_layers + 1):
            out = width * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, out, 4, stride=stride, padding=1, bias=False),
                       nn.InstanceNorm2d(out, affine=True), nn.LeakyReLU(0.2, inplace=True)]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        gaussian_init(self)

    def forward(self, x: Tensor) -> Tensor:
        """Raw (logit-like) realness scores per patch."""
        return self.net(x)
