"""The fully connected GAN of the textbook MNIST example (Goodfellow et al. 2014)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.models.packing import check_pack, pack_samples
from ganforge.models.toy import FeatureStd
from ganforge.nn import Configurable


class VanillaGenerator(Configurable):
    """G: z (100) -> 256 -> 512 -> 1024 -> C·S·S with LeakyReLU and BatchNorm, tanh output."""

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 28,
                 widths: tuple = (256, 512, 1024), num_classes: int = 0):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.shape = (channels, image_size, image_size)
        layers: list[nn.Module] = []
        previous = z_dim
        for i, width in enumerate(widths):
            layers.append(nn.Linear(previous, width))
            if i > 0:  # BatchNorm on the hidden layers after the first, as in the textbook example
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            previous = width
        layers += [nn.Linear(previous, channels * image_size * image_size), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [-1, 1], shape (N, C, S, S)."""
        return self.net(z).view(z.shape[0], *self.shape)


class VanillaDiscriminator(Configurable):
    """D: C·S·S -> 512 -> 256 -> 1 with LeakyReLU; returns the logit of P(real).

    `pack` > 1 judges that many images at once, their pixels joined (PacGAN, Lin et al. 2018);
    `minibatch_std` > 0 appends the mean feature standard deviation over groups of that many inputs
    before the last layer (Karras et al. 2018).
    """

    def __init__(self, channels: int = 1, image_size: int = 28, widths: tuple = (512, 256),
                 num_classes: int = 0, pack: int = 1, minibatch_std: int = 0):
        super().__init__()
        self.pack = check_pack(pack)
        layers: list[nn.Module] = []
        previous = channels * image_size * image_size * self.pack
        for width in widths:
            layers += [nn.Linear(previous, width), nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        if minibatch_std > 0:
            layers.append(FeatureStd(minibatch_std))
            previous += 1
        layers.append(nn.Linear(previous, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (N / pack,); sigmoid(logit) = D(x) = P(real)."""
        return self.net(pack_samples(images, self.pack).flatten(1)).squeeze(1)

    @torch.no_grad()
    def probability(self, images: Tensor) -> Tensor:
        """D(x) = P(real) for display."""
        return torch.sigmoid(self(images))
