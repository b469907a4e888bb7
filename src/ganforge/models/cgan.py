"""Class-conditional players: the textbook cGAN (Mirza & Osindero 2014) and a projection discriminator.

Generators join a learned label embedding to the noise z (and, optionally, condition every
BatchNorm on the class).  Discriminators see the label either joined to their input ("concat": the
embedding appended to the flattened image, or broadcast as extra input channels for the
convolutional one) or through the projection of Miyato & Koyama (2018):
logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.models.dcgan import discriminator_features, upsampling_steps
from ganforge.nn import Configurable
from ganforge.nn.conditional_norm import ConditionalBatchNorm2d
from ganforge.nn.init import normal_init
from ganforge.nn.widths import CHANNEL_MAX, capped_width

DISCRIMINATOR_MODES = ("projection", "concat")


def _check_classes(num_classes: int, embed_dim: int) -> None:
    if int(num_classes) < 1:
        raise GanforgeError(f"A conditional player needs num_classes >= 1, got {num_classes!r}; expected labelled data.")
    if int(embed_dim) < 1:
        raise GanforgeError(f"Label embedding size embed_dim={embed_dim!r} is invalid; expected an integer >= 1.")


def _check_mode(mode: str) -> None:
    if mode not in DISCRIMINATOR_MODES:
        raise GanforgeError(f"Discriminator mode {mode!r} is unknown; expected one of {', '.join(DISCRIMINATOR_MODES)}.")


def spectral(module: nn.Module, on: bool) -> nn.Module:
    """`module` with its weight spectrally normalized (Miyato et al. 2018) when `on`, else unchanged."""
    return nn.utils.parametrizations.spectral_norm(module) if on else module


def labels_for(labels: Optional[Tensor], n: int, num_classes: int, device: torch.device) -> Tensor:
    """`labels` as int64 on `device`, or classes 0, 1, ... cycling over `n` samples when None."""
    if labels is None:
        return torch.arange(n, device=device) % num_classes
    return labels.to(device=device, dtype=torch.long)


# --- fully connected (textbook) ------------------------------------------------------------------
class ConditionalVanillaGenerator(Configurable):
    """G(z, y): [z, embed(y)] -> 256 -> 512 -> 1024 -> C·S·S with LeakyReLU and BatchNorm, tanh output."""

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 28,
                 widths: tuple = (256, 512, 1024), num_classes: int = 10, embed_dim: int = 10):
        super().__init__()
        _check_classes(num_classes, embed_dim)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.shape = (channels, image_size, image_size)
        self.embed = nn.Embedding(num_classes, embed_dim)
        layers: list[nn.Module] = []
        previous = z_dim + embed_dim
        for i, width in enumerate(widths):
            layers.append(nn.Linear(previous, width))
            if i > 0:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            previous = width
        layers += [nn.Linear(previous, channels * image_size * image_size), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Images in [-1, 1], shape (N, C, S, S), of the classes `labels` (cycling 0, 1, ... when None)."""
        labels = labels_for(labels, z.shape[0], self.num_classes, z.device)
        return self.net(torch.cat([z.flatten(1), self.embed(labels)], 1)).view(z.shape[0], *self.shape)


class ConditionalVanillaDiscriminator(Configurable):
    """D(x, y): C·S·S -> 512 -> 256 -> 1 with LeakyReLU; the label joined to the input or projected.

    With `spectral_norm`, every linear layer and the label embedding are spectrally normalized.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, widths: tuple = (512, 256),
                 num_classes: int = 10, embed_dim: int = 10, mode: str = "projection", spectral_norm: bool = False):
        super().__init__()
        _check_classes(num_classes, embed_dim)
        _check_mode(mode)
        self.num_classes, self.mode = num_classes, mode
        previous = channels * image_size * image_size
        if mode == "concat":
            self.embed = nn.Embedding(num_classes, embed_dim)
            previous += embed_dim
        layers: list[nn.Module] = []
        for width in widths:
            layers += [spectral(nn.Linear(previous, width), spectral_norm), nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.head = spectral(nn.Linear(previous, 1), spectral_norm)
        if mode == "projection":
            self.embed = nn.Embedding(num_classes, previous)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        self.embed = spectral(self.embed, spectral_norm)

    def forward(self, images: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Logits (N,) of "real and of class y"."""
        labels = labels_for(labels, images.shape[0], self.num_classes, images.device)
        x = images.flatten(1)
        if self.mode == "concat":
            return self.head(self.features(torch.cat([x, self.embed(labels)], 1))).squeeze(1)
        h = self.features(x)
        return self.head(h).squeeze(1) + (self.embed(labels) * h).sum(1)


# --- convolutional (DCGAN) -----------------------------------------------------------------------
class ConditionalDCGANGenerator(Configurable):
    """G(z, y): [z, embed(y)] -> 4x4 -> 2x transposed-conv stages with (conditional) BatchNorm + ReLU, tanh."""

    added_since = {"channel_max": 0}

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 32, width: int = 64,
                 num_classes: int = 10, embed_dim: int = 10, conditional_bn: bool = False, channel_max: int = CHANNEL_MAX):
        super().__init__()
        _check_classes(num_classes, embed_dim)
        self.z_dim, self.num_classes, self.conditional_bn = z_dim, num_classes, bool(conditional_bn)
        steps = upsampling_steps(image_size)
        self.embed = nn.Embedding(num_classes, embed_dim)
        ch = capped_width(width, steps - 1, channel_max)
        convs, norms = [nn.ConvTranspose2d(z_dim + embed_dim, ch, 4, 1, 0, bias=False)], [self._norm(ch)]
        for i in range(steps - 2, -1, -1):
            out = capped_width(width, i, channel_max)
            convs.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False))
            norms.append(self._norm(out))
            ch = out
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        self.to_image = nn.ConvTranspose2d(ch, channels, 4, 2, 1)
        normal_init(self)  # the label embedding keeps its N(0, 1) start

    def _norm(self, ch: int) -> nn.Module:
        return ConditionalBatchNorm2d(ch, self.num_classes) if self.conditional_bn else nn.BatchNorm2d(ch)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Images in [-1, 1], shape (N, C, S, S), of the classes `labels` (cycling 0, 1, ... when None)."""
        labels = labels_for(labels, z.shape[0], self.num_classes, z.device)
        x = torch.cat([z.flatten(1), self.embed(labels)], 1).view(z.shape[0], -1, 1, 1)
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)
            x = norm(x, labels) if self.conditional_bn else norm(x)
            x = torch.relu(x)
        return torch.tanh(self.to_image(x))


class ConditionalDCGANDiscriminator(Configurable):
    """D(x, y): DCGAN strided convs; the label as extra input channels ("concat") or projected on φ(x).

    With `spectral_norm`, every convolution and the label embedding are spectrally normalized and
    BatchNorm is left out, as in the projection discriminator of Miyato & Koyama (2018).
    """

    added_since = {"channel_max": 0}

    def __init__(self, channels: int = 1, image_size: int = 32, width: int = 64, num_classes: int = 10,
                 embed_dim: int = 10, mode: str = "projection", spectral_norm: bool = False, channel_max: int = CHANNEL_MAX):
        super().__init__()
        _check_classes(num_classes, embed_dim)
        _check_mode(mode)
        self.num_classes, self.mode = num_classes, mode
        steps = upsampling_steps(image_size)
        in_ch = channels + (embed_dim if mode == "concat" else 0)
        self.features = discriminator_features(in_ch, width, steps, batchnorm=not spectral_norm, channel_max=channel_max)
        ch = capped_width(width, steps - 1, channel_max)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)
        normal_init(self)
        # concat: a label map of embed_dim channels; projection: one vector per class against pooled φ(x)
        self.embed = nn.Embedding(num_classes, embed_dim if mode == "concat" else ch)
        if mode == "projection":
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if spectral_norm:
            for module in [m for m in self.features if isinstance(m, nn.Conv2d)] + [self.head]:
                spectral(module, True)
            self.embed = spectral(self.embed, True)

    def forward(self, images: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Logits (N,) of "real and of class y"."""
        labels = labels_for(labels, images.shape[0], self.num_classes, images.device)
        if self.mode == "concat":
            n, _, h, w = images.shape
            label_map = self.embed(labels).to(images.dtype).view(n, -1, 1, 1).expand(n, -1, h, w)
            return self.head(self.features(torch.cat([images, label_map], 1))).flatten()
        features = self.features(images)
        pooled = features.sum(dim=(2, 3))  # global sum pooling, as in Miyato & Koyama (2018)
        return self.head(features).flatten() + (self.embed(labels) * pooled).sum(1)
