"""DCGAN players (Radford, Metz & Chintala 2015): all-convolutional, BatchNorm, no hidden FC layers."""
from __future__ import annotations

import math

from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.models.packing import check_pack, pack_samples
from ganforge.nn import Configurable
from ganforge.nn.init import normal_init
from ganforge.nn.minibatch_std import MinibatchStd
from ganforge.nn.widths import CHANNEL_MAX, capped_width


def upsampling_steps(image_size: int) -> int:
    """Number of 2x stages from 4x4 to `image_size` (a power of two from 8 to 256)."""
    steps = int(math.log2(image_size)) - 2 if image_size > 0 else -1
    if steps < 1 or 4 * 2 ** steps != image_size or image_size > 256:
        raise GanforgeError(f"Image size {image_size} is not supported by DCGAN; expected a power of two from 8 to 256 (32 and 64 are usual).")
    return steps


def discriminator_features(in_channels: int, width: int, steps: int, batchnorm: bool = True,
                           channel_max: int = CHANNEL_MAX) -> nn.Sequential:
    """DCGAN's D body: 4x4 stride-2 convs doubling the width up to `channel_max`, LeakyReLU(0.2), BatchNorm on all but the first.

    Without `batchnorm` the convolutions keep their biases (as under spectral normalization).
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, capped_width(width, 0, channel_max), 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for i in range(1, steps):
        ch, out = capped_width(width, i - 1, channel_max), capped_width(width, i, channel_max)
        norm = [nn.BatchNorm2d(out)] if batchnorm else []
        layers += [nn.Conv2d(ch, out, 4, 2, 1, bias=not batchnorm), *norm, nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers)


class DCGANGenerator(Configurable):
    """G: z -> 4x4 feature map by a transposed conv, then 2x transposed-conv stages with BatchNorm+ReLU, tanh.

    Widths halve from `width`·2^(stages−1) at 4x4 to `width`, none above `channel_max` (0: no ceiling).
    """

    added_since = {"channel_max": 0}

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 32, width: int = 64,
                 num_classes: int = 0, channel_max: int = CHANNEL_MAX):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        steps = upsampling_steps(image_size)
        ch = capped_width(width, steps - 1, channel_max)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for i in range(steps - 2, -1, -1):
            out = capped_width(width, i, channel_max)
            layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
            ch = out
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [-1, 1], shape (N, C, S, S)."""
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(Configurable):
    """D: strided convs with LeakyReLU(0.2) and BatchNorm (none on the first), a 4x4 conv to one logit.

    `pack` > 1 judges that many images at once, joined on the channel axis (PacGAN, Lin et al. 2018);
    `minibatch_std` > 0 appends a minibatch standard-deviation map over groups of that many inputs
    before the last conv (Karras et al. 2018). Widths stop at `channel_max` (0: no ceiling).
    """

    added_since = {"channel_max": 0}

    def __init__(self, channels: int = 1, image_size: int = 32, width: int = 64, num_classes: int = 0,
                 pack: int = 1, minibatch_std: int = 0, channel_max: int = CHANNEL_MAX):
        super().__init__()
        steps = upsampling_steps(image_size)
        self.pack = check_pack(pack)
        self.features = discriminator_features(channels * self.pack, width, steps, channel_max=channel_max)
        self.std = MinibatchStd(minibatch_std) if minibatch_std > 0 else None
        self.head = nn.Conv2d(capped_width(width, steps - 1, channel_max) + (1 if self.std is not None else 0), 1, 4, 1, 0)
        normal_init(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (N / pack,)."""
        h = self.features(pack_samples(images, self.pack))
        if self.std is not None:
            h = self.std(h)
        return self.head(h).flatten()
