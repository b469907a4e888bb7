"""The conditional GAN family: the adversarial game played by class-conditional players.

G(z, y) must make images of class y; D(x, y) judges whether x is a real image of class y
(Mirza & Osindero 2014).  The discriminator sees the label by projection (Miyato & Koyama 2018,
the default) or by concatenation to its input (the textbook cGAN).
"""
from __future__ import annotations

from dataclasses import dataclass

from ganforge.errors import GanforgeError
from ganforge.games.adversarial import build_adversarial
from ganforge.games.base import DataInfo
from ganforge.games.registry import Family, register
from ganforge.games.shared_options import ChannelCeiling
from ganforge.models.cgan import DISCRIMINATOR_MODES

BASES = ("dcgan", "vanilla")


@dataclass
class CGANOptions(ChannelCeiling):
    """Options of the conditional GAN."""

    base: str = "dcgan"  #: player architecture: dcgan (convolutional) or vanilla (fully connected, textbook)
    discriminator: str = "projection"  #: how D sees the label: projection (Miyato & Koyama 2018) or concat
    spectral_norm: bool = False  #: spectrally normalized D layers and embedding, no BatchNorm in D (Miyato et al. 2018)
    conditional_bn: bool = False  #: class-conditional BatchNorm in the DCGAN generator
    z_dim: int = 100  #: noise dimension
    width: int = 64  #: DCGAN channels of the widest-resolution layer (ngf = ndf)
    embed_dim: int = 10  #: label embedding joined to z (and to D's input with concat); 50 made G ignore z
    r1_gamma: float = 0.0  #: R1 penalty weight γ on real data (0: off)

    def validate(self) -> None:
        """Reject unknown choices and non-positive sizes."""
        if self.base not in BASES:
            raise GanforgeError(f"cGAN option base={self.base!r} is unknown; expected one of {', '.join(BASES)}.")
        if self.discriminator not in DISCRIMINATOR_MODES:
            raise GanforgeError(f"cGAN option discriminator={self.discriminator!r} is unknown; expected one of {', '.join(DISCRIMINATOR_MODES)}.")
        if self.conditional_bn and self.base != "dcgan":
            raise GanforgeError("cGAN option conditional_bn=True needs base='dcgan'; expected conditional_bn=False for the vanilla base.")
        for name in ("z_dim", "width", "embed_dim"):
            if getattr(self, name) < 1:
                raise GanforgeError(f"cGAN option {name}={getattr(self, name)!r} is invalid; expected an integer >= 1.")
        if self.r1_gamma < 0:
            raise GanforgeError(f"cGAN option r1_gamma={self.r1_gamma!r} is invalid; expected a number >= 0.")
        self.check_channel_max()


def conditional_players(options: CGANOptions, info: DataInfo):
    """(G, D) for labelled data described by `info`; a clear error when the data has no labels."""
    from ganforge.models import cgan

    if info.num_classes < 1:
        raise GanforgeError("The training data has no labels, which model 'cgan' needs; expected mnist, "
                            "fashion-mnist, or a folder with one sub-folder per class.")
    k, c, s = info.num_classes, info.channels, info.image_size
    if options.base == "vanilla":
        return (cgan.ConditionalVanillaGenerator(options.z_dim, c, s, num_classes=k, embed_dim=options.embed_dim),
                cgan.ConditionalVanillaDiscriminator(c, s, num_classes=k, embed_dim=options.embed_dim,
                                                     mode=options.discriminator, spectral_norm=options.spectral_norm))
    return (cgan.ConditionalDCGANGenerator(options.z_dim, c, s, options.width, k, options.embed_dim,
                                           options.conditional_bn, channel_max=options.channel_max),
            cgan.ConditionalDCGANDiscriminator(c, s, options.width, k, options.embed_dim, options.discriminator,
                                               options.spectral_norm, channel_max=options.channel_max))


register(Family("cgan", "class-conditional GAN (Mirza & Osindero 2014; projection D of Miyato & Koyama 2018)",
                CGANOptions, build_adversarial(conditional_players), default_image_size=32,
                default_steps=2500, tiny={"image_size": 16, "options": {"width": 4, "z_dim": 8, "embed_dim": 4}}))
