"""FastGAN players (Liu, Zhu, Song & Elgammal, "Towards Faster and Stabilized GAN Training for High-fidelity
Few-shot Image Synthesis", ICLR 2021), for 64 to 1024 px.

The generator grows a 4×4 map by GLU upsampling blocks (a deeper block with noise inputs at 8, 32, 128
and 512 px) and lets low-resolution features gate high-resolution channels by skip-layer excitation
(4→64, 8→128, 16→256, 32→512 px). The discriminator is regularised as a self-supervised auto-encoder:
two small decoders rebuild, from its 8×8 features, the whole image, and from one quadrant of its 16×16
features, that quadrant of the image, both at min(128, size) px. Every convolution is spectrally
normalised; the channel widths per resolution follow the paper's tables, scaled by `width`. The paper's
second discriminator branch on a 128 px copy of the image is left out.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.down_block import TwoPathDown
from ganforge.nn.excitation import SkipLayerExcitation
from ganforge.nn.glu_blocks import ChannelGLU, glu_upsample
from ganforge.nn.init import normal_init

SIZES = (64, 128, 256, 512, 1024)  #: image sizes the players build
#: generator (and decoder) channels per resolution, as multiples of `width` (the paper's table for ngf)
G_FACTOR = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
#: discriminator channels per feature resolution, as multiples of `width` (the paper's table for ndf)
D_FACTOR = {8: 8, 16: 4, 32: 2, 64: 1, 128: 0.5, 256: 0.25, 512: 0.125}
G_EXCITED = (64, 128, 256, 512)  #: generator resolutions gated by the features 16× smaller
D_EXCITED = (8, 16, 32)  #: discriminator resolutions gated by the features 8× larger
PARTS = 4  #: quadrants a crop reconstruction may pick: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right


def check_image_size(image_size: int) -> int:
    """`image_size` if FastGAN builds it (a power of two from 64 to 1024), else a GanforgeError."""
    if image_size not in SIZES:
        raise GanforgeError(f"Image size {image_size} is not supported by FastGAN; expected one of {', '.join(map(str, SIZES))}.")
    return image_size


def _channels(factor: float, width: int) -> int:
    return max(1, int(factor * width))


def _spectral_norm_convs(module: nn.Module) -> None:
    """Spectrally normalise (Miyato et al. 2018) every convolution of `module`, in place."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.utils.parametrizations.spectral_norm(m)


def quadrant(x: Tensor, part: int) -> Tensor:
    """One quarter of a feature map or image (N, C, H, W): `part` 0..3 in reading order."""
    if not 0 <= part < PARTS:
        raise GanforgeError(f"Quadrant {part} is invalid; expected 0, 1, 2 or 3.")
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    top, left = (part // 2) * h, (part % 2) * w
    return x[..., top:top + h, left:left + w]


def reconstruction_targets(images: Tensor, part: int, size: int) -> tuple[Tensor, Tensor]:
    """What the decoders must rebuild: the whole image and its quadrant `part`, each area-resized to `size`."""
    return (F.interpolate(images, size=(size, size), mode="area"),
            F.interpolate(quadrant(images, part), size=(size, size), mode="area"))


class FastGANGenerator(Configurable):
    """G: z → 4×4 (transposed conv, BatchNorm, GLU) → GLU upsampling to `image_size`, with skip-layer excitation → tanh."""

    def __init__(self, z_dim: int = 256, channels: int = 3, image_size: int = 256, width: int = 64):
        super().__init__()
        check_image_size(image_size)
        self.z_dim, self.num_classes, self.image_size = z_dim, 0, image_size
        ch = {r: _channels(f, width) for r, f in G_FACTOR.items()}
        self.initial = nn.Sequential(nn.ConvTranspose2d(z_dim, 2 * ch[4], 4, 1, 0, bias=False), nn.BatchNorm2d(2 * ch[4]),
                                     ChannelGLU())
        self.resolutions = [2 ** k for k in range(3, image_size.bit_length())]
        self.ups = nn.ModuleDict({str(r): glu_upsample(ch[r // 2], ch[r], r, twice=r.bit_length() % 2 == 0)
                                  for r in self.resolutions})
        self.excite = nn.ModuleDict({str(r): SkipLayerExcitation(ch[r // 16], ch[r]) for r in G_EXCITED if r <= image_size})
        self.to_image = nn.Sequential(nn.Conv2d(ch[image_size], channels, 3, 1, 1), nn.Tanh())
        normal_init(self)
        _spectral_norm_convs(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [-1, 1], shape (N, C, S, S)."""
        x = self.initial(z.reshape(z.shape[0], -1, 1, 1))
        feats = {4: x}
        for r in self.resolutions:
            x = self.ups[str(r)](x)
            if str(r) in self.excite:
                x = self.excite[str(r)](feats[r // 16], x)
            if r <= 32:
                feats[r] = x
        return self.to_image(x)


class ReconstructionDecoder(nn.Module):
    """8×8 features → GLU upsampling blocks → an image of `size` px in [-1, 1]."""

    def __init__(self, in_channels: int, channels: int, size: int, width: int):
        super().__init__()
        layers: list[nn.Module] = []
        r, c = 8, in_channels
        while r < size:
            r *= 2
            layers.append(glu_upsample(c, _channels(G_FACTOR[r], width)))
            c = _channels(G_FACTOR[r], width)
        self.net = nn.Sequential(*layers, nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())

    def forward(self, features: Tensor) -> Tensor:
        """The rebuilt image (N, C, size, size)."""
        return self.net(features)


class FastGANDiscriminator(Configurable):
    """D: a stem to min(size, 256) px, two-path downsampling to 8×8 with skip-layer excitation, a 5×5 map of logits;
    decoders rebuild the image from the 8×8 features and a quadrant from the 16×16 ones (`judge_and_reconstruct`)."""

    def __init__(self, channels: int = 3, image_size: int = 256, width: int = 64):
        super().__init__()
        check_image_size(image_size)
        ch = {r: _channels(f, width) for r, f in D_FACTOR.items()}
        self.top = min(image_size, 256)
        if image_size <= 256:
            stem: list[nn.Module] = [nn.Conv2d(channels, ch[self.top], 3, 1, 1), nn.LeakyReLU(0.2)]
        else:  # strided 4x4 convs down to 256 px, BatchNorm on all but the first
            stem, r, c = [], image_size, channels
            while r > 256:
                r //= 2
                stem += [nn.Conv2d(c, ch[r], 4, 2, 1, bias=False), *([nn.BatchNorm2d(ch[r])] if stem else []), nn.LeakyReLU(0.2)]
                c = ch[r]
        self.stem = nn.Sequential(*stem)
        self.downs = nn.ModuleDict({str(r // 2): TwoPathDown(ch[r], ch[r // 2]) for r in _halvings(self.top)})
        self.excite = nn.ModuleDict({str(r): SkipLayerExcitation(ch[8 * r], ch[r]) for r in D_EXCITED if 8 * r <= self.top})
        self.head = nn.Sequential(nn.Conv2d(ch[8], 2 * ch[8], 1, 1, 0, bias=False), nn.BatchNorm2d(2 * ch[8]),
                                  nn.LeakyReLU(0.2), nn.Conv2d(2 * ch[8], 1, 4, 1, 0, bias=False))
        self.reconstruction_size = min(128, image_size)
        decoder_width = max(1, width // 2)
        self.decode_whole = ReconstructionDecoder(ch[8], channels, self.reconstruction_size, decoder_width)
        self.decode_quadrant = ReconstructionDecoder(ch[16], channels, self.reconstruction_size, decoder_width)
        normal_init(self)
        _spectral_norm_convs(self)

    def features(self, images: Tensor) -> dict[int, Tensor]:
        """D's feature maps by resolution, from min(size, 256) down to 8."""
        x = self.stem(images)
        feats, r = {self.top: x}, self.top
        while r > 8:
            r //= 2
            x = self.downs[str(r)](x)
            if str(r) in self.excite:
                x = self.excite[str(r)](feats[8 * r], x)
            feats[r] = x
        return feats

    def forward(self, images: Tensor, labels: Tensor | None = None,
                part: int | None = None) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """Logits (N, 25): a 5×5 map of real-or-fake scores per image; with `part`, `judge_and_reconstruct`'s triple."""
        feats = self.features(images)
        logits = self.head(feats[8]).flatten(1)
        if part is None:
            return logits
        return logits, self.decode_whole(feats[8]), self.decode_quadrant(quadrant(feats[16], part))

    def judge_and_reconstruct(self, images: Tensor, part: int) -> tuple[Tensor, Tensor, Tensor]:
        """(logits (N, 25), the whole image rebuilt from the 8×8 features, quadrant `part` rebuilt from the 16×16 ones).

        A call of the module itself, so that a compiled D compiles this pass too: a BatchNorm D run eagerly on the reals
        and compiled on the fakes fails its backward on a buffer rewritten in place (torch 2.13; docs/speed.md)."""
        return self(images, part=part)


def _halvings(top: int) -> list[int]:
    """Resolutions top, top/2, ..., 16: the inputs of the downsampling blocks that reach 8×8."""
    return [2 ** k for k in range(top.bit_length() - 1, 3, -1)]
