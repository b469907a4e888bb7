"""Convolutional VAE players (Kingma & Welling 2014): an encoder q(z|x) and a decoder p(x|z).

The decoder is the exported "generator": ``forward(z)`` returns the mean image of p(x|z) in [-1, 1],
so it samples, exports and evaluates like any GAN generator. Both players mirror DCGAN's layout
(4x4 stride-2 convolutions doubling the channels at each halving) so that a comparison with DCGAN
at the same width compares objectives, not architectures; they use no BatchNorm, so an image's
code does not depend on the rest of its batch.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.widths import CHANNEL_MAX, capped_width


def halving_steps(image_size: int) -> int:
    """Number of 2x stages between 4x4 and `image_size` (a power of two from 8 to 256)."""
    steps = int(math.log2(image_size)) - 2 if image_size > 0 else -1
    if steps < 1 or 4 * 2 ** steps != image_size or image_size > 256:
        raise GanforgeError(f"Image size {image_size} is not supported by the VAE; expected a power of two from 8 to 256 (32 is usual).")
    return steps


class Encoder(Configurable):
    """q(z|x): strided convs with LeakyReLU(0.2) down to 4x4, then a linear layer to the mean and log-variance."""

    added_since = {"channel_max": 0}

    def __init__(self, z_dim: int = 32, channels: int = 1, image_size: int = 32, width: int = 64, channel_max: int = CHANNEL_MAX):
        super().__init__()
        self.z_dim = z_dim
        steps = halving_steps(image_size)
        layers: list[nn.Module] = []
        ch_in = channels
        for i in range(steps):
            ch = capped_width(width, i, channel_max)
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in = ch
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch_in * 16, 2 * z_dim)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(mean, log-variance) of q(z|x), each (N, z_dim), for images in [-1, 1]."""
        stats = self.head(self.features(images).flatten(1)).float()
        mean, logvar = stats.chunk(2, dim=1)
        return mean, logvar


class Decoder(Configurable):
    """p(x|z): a linear layer to a 4x4 map, 2x transposed-conv stages with ReLU, one logit per pixel.

    ``logits(z)`` gives the pre-activation h; the mean of p(x|z) on the [0, 1] pixel scale is
    sigmoid(h) (the Bernoulli probability or the Gaussian mean), and ``forward`` returns it mapped
    to [-1, 1]. With ``learned_sigma`` the decoder also keeps, as a buffer, log σ: the one pixel-noise
    scale of a Gaussian p(x|z) last fitted during training (Rybkin et al. 2021, "σ-VAE").
    """

    added_since = {"channel_max": 0}

    def __init__(self, z_dim: int = 32, channels: int = 1, image_size: int = 32, width: int = 64,
                 num_classes: int = 0, learned_sigma: bool = False, channel_max: int = CHANNEL_MAX):
        super().__init__()
        if num_classes:
            raise GanforgeError(f"VAE decoder num_classes={num_classes} is invalid; expected 0 (the VAE is unconditional).")
        self.z_dim, self.num_classes = z_dim, 0
        steps = halving_steps(image_size)
        ch = capped_width(width, steps - 1, channel_max)
        self.fc = nn.Linear(z_dim, ch * 16)
        self.start = ch
        layers: list[nn.Module] = [nn.ReLU(True)]
        for i in range(steps - 2, -1, -1):
            out = capped_width(width, i, channel_max)
            layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1), nn.ReLU(True)]
            ch = out
        layers.append(nn.ConvTranspose2d(ch, channels, 4, 2, 1))
        self.net = nn.Sequential(*layers)
        if learned_sigma:
            self.register_buffer("log_sigma", torch.zeros(()))

    def logits(self, z: Tensor) -> Tensor:
        """Per-pixel pre-activations h (N, C, S, S); sigmoid(h) is the mean of p(x|z) on [0, 1]."""
        h = self.fc(z.flatten(1)).view(z.shape[0], self.start, 4, 4)
        return self.net(h)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Mean images of p(x|z) in [-1, 1], shape (N, C, S, S)."""
        return torch.tanh(0.5 * self.logits(z))  # = 2·sigmoid(h) - 1
