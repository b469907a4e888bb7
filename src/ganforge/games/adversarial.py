"""The classic two-player game: one generator, one discriminator, an adversarial loss from losses.py.

Serves the textbook fully connected GAN and DCGAN (and, with conditional players, the cGAN).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import LOSS_G
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.registry import Family, register
from ganforge.games.shared_options import ChannelCeiling
from ganforge.games.toolkit import NoiseRendering, discriminator_loss, frozen, generator_loss, run_penalties
from ganforge.kinds import declare
from ganforge.losses import AdversarialLoss, get_loss
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.vanilla import VanillaDiscriminator, VanillaGenerator
from ganforge.nn.augment import augmenter_from
from ganforge.nn.configurable import default_of


class AdversarialGame(NoiseRendering, Game):
    """Alternating D and G updates on V(D, G) under a chosen adversarial loss.

    Real samples are read from the batch under `data_key` ("images"; the toy game's "points").
    A packing discriminator (PacGAN) returns one logit per pack; the losses are means over them.
    """

    data_key = "images"

    def __init__(self, runtime: Runtime, info: DataInfo, generator: nn.Module, discriminator: nn.Module,
                 loss: AdversarialLoss, cfg: TrainConfig, r1_gamma: float = 0.0, r1_interval: int = 1,
                 reuse_fake: bool = False):
        super().__init__(runtime, info)
        self.reuse_fake = reuse_fake
        self._fake_for_g: Optional[tuple] = None  # the round's last D-step fakes with G's graph, their labels, G's weight versions
        self.seat_pair(generator, discriminator, cfg, run_penalties(cfg, loss, r1_gamma, r1_interval))
        self.round, self.d_in_round = 0, 0  # where lazy R1 stands: set by set_phase, so a resumed run places it alike
        self.loss = loss
        self.conditional = getattr(generator, "num_classes", 0) > 0
        self.augmenter = augmenter_from(cfg)  # ADA / DiffAugment: every image D sees, real and fake, drawn independently
        if self.augmenter.active and self.data_key != "images":
            raise GanforgeError(f"Config value augment={cfg.augment!r} needs images; expected augment=none for {self.data_key}.")

    def set_phase(self, step: int, total_steps: int) -> None:
        """Note the round about to be played: its D steps are numbered from `step` (lazy R1 and R2)."""
        self.round, self.d_in_round = step, 0

    @property
    def d_step(self) -> int:
        """The number of the next D step from the start of training: a pure function of the round and its D steps so far."""
        return self.round * self.critic_steps + self.d_in_round

    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One D update: real batch vs G(z) (no gradient into G); R1 and R2 on the D steps the lazy interval names."""
        G, D = self.players["generator"], self.players["discriminator"]
        real, labels = batch[self.data_key], self._labels(batch)
        keep = self.reuse_fake and (self.d_in_round + 1) % self.critic_steps == 0  # a round's last D step, reset or not
        with torch.set_grad_enabled(keep):
            fake = G(self._noise(real.shape[0]), labels)
        self._fake_for_g = (fake, labels, self._generator_versions()) if keep else None
        terms = discriminator_loss(lambda x: D(x, labels), real, fake, self.loss, self.penalties, d_step=self.d_step,
                                   augment=self.augmenter)
        self.d_in_round += 1
        self.update("discriminator", terms.loss)
        return terms.logs

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One G update through a frozen D: on the round's last D-step fakes under `reuse_fake`, else on fresh ones.

        Reusing them (G is unchanged since they were drawn) saves one G forward pass a round, as the reference
        DCGAN training scripts do; the G step then sees the labels those fakes were drawn with. Fakes whose G
        weights were written in between (a loaded state) are dropped for fresh ones.
        """
        G, D = self.players["generator"], self.players["discriminator"]
        real = batch[self.data_key]
        kept, self._fake_for_g = self._fake_for_g, None
        if kept is not None and kept[2] != self._generator_versions():  # G's weights were written since: draw anew
            kept = None
        fake, labels = kept[:2] if kept is not None else (None, self._labels(batch))
        with frozen(D):
            if fake is None:
                fake = G(self._noise(real.shape[0]), labels)
            loss = generator_loss(lambda x: D(x, labels), fake, self.loss, real, self.augmenter)
            self.update("generator", loss)
        return {LOSS_G: loss.detach()}

    def _generator_versions(self) -> tuple[int, ...]:
        """The in-place write counters of G's parameters: kept fakes are valid only while these are unchanged."""
        return tuple(p._version for p in self.players["generator"].parameters())

    def extra_state(self) -> dict:
        """The augmentation controller (ADA's p and its partial interval)."""
        return {"augment": self.augmenter.state_dict()} if self.augmenter.active else {}

    def load_extra_state(self, state: dict) -> None:
        """Restore the augmentation controller."""
        self.augmenter.load_state_dict(state.get("augment", {}))

    def export_info(self) -> dict[str, Any]:
        """Base facts plus kind "noise" (with class labels for conditional players)."""
        return {**super().export_info(), **declare("noise", *(["labels"] if self.conditional else []))}


@dataclass
class VanillaOptions:
    """Options of the fully connected GAN."""

    z_dim: int = default_of(VanillaGenerator, "z_dim")  #: noise dimension
    r1_gamma: float = 0.0  #: R1 penalty weight γ on real data (0: off)
    pack: int = 1  #: PacGAN packing: D judges this many samples at once (Lin et al. 2018; 2-4); batch size must divide
    minibatch_std: int = 0  #: minibatch-stddev group size in D (Karras et al. 2018); 0: off

    def validate(self) -> None:
        """Reject non-positive sizes."""
        check_remedies(self)


@dataclass
class DCGANOptions(ChannelCeiling):
    """Options of DCGAN."""

    z_dim: int = default_of(DCGANGenerator, "z_dim")  #: noise dimension
    width: int = default_of(DCGANGenerator, "width")  #: channels of the widest-resolution layer (ngf = ndf)
    r1_gamma: float = 0.2  #: R1 penalty weight γ on real data (0: off); 0.2 took the default MNIST run from FD 5.7 to 2.8 (docs/speed.md)
    r1_interval: int = 16  #: lazy R1 (Karras et al. 2020): every this many D steps, weighted by it; 1: every step (docs/speed.md)
    d_width: int = 0  #: D's first-layer channels; 0: the same as width. width/4 is PacGAN Table 3's small D
    pack: int = 1  #: PacGAN packing: D judges this many images at once (Lin et al. 2018; 2-4); batch size must divide
    minibatch_std: int = 0  #: minibatch-stddev group size before D's last conv (Karras et al. 2018); 0: off
    reuse_fake: bool = True  #: G's step reuses the round's last D-step fakes (one G forward a round fewer; docs/speed.md)

    def validate(self) -> None:
        """Reject non-positive sizes."""
        if self.z_dim < 1 or self.width < 1 or self.d_width < 0 or self.r1_interval < 1:
            raise GanforgeError(f"DCGAN options z_dim={self.z_dim}, width={self.width}, d_width={self.d_width}, "
                                f"r1_interval={self.r1_interval} are invalid; expected positive integers (d_width 0: same as width).")
        self.check_channel_max()
        check_remedies(self)


def check_remedies(options) -> None:
    """Reject a packing below 1 or a negative minibatch-stddev group size."""
    if options.pack < 1:
        raise GanforgeError(f"Option pack={options.pack} is invalid; expected an integer >= 1 (PacGAN uses 2 to 4).")
    if options.minibatch_std < 0:
        raise GanforgeError(f"Option minibatch_std={options.minibatch_std} is invalid; expected a group size >= 1, or 0 for off.")


def check_batch_for_pack(cfg: TrainConfig, pack: int) -> None:
    """Reject a batch size that `pack` does not divide."""
    if pack > 1 and cfg.batch_size is not None and cfg.batch_size % pack:
        raise GanforgeError(f"Batch size {cfg.batch_size} is not divisible by pack={pack}; expected a multiple of the packing.")


def build_adversarial(make_players: Callable) -> Callable:
    """A family builder from a function (options, info) -> (generator, discriminator)."""

    def build(cfg: TrainConfig, options, info: DataInfo, runtime: Runtime) -> AdversarialGame:
        check_batch_for_pack(cfg, getattr(options, "pack", 1))
        generator, discriminator = make_players(options, info)
        return AdversarialGame(runtime, info, generator, discriminator, get_loss(cfg.loss), cfg,
                               r1_gamma=options.r1_gamma, r1_interval=getattr(options, "r1_interval", 1),
                               reuse_fake=getattr(options, "reuse_fake", False))

    return build


def _vanilla_players(options: VanillaOptions, info: DataInfo):
    return (VanillaGenerator(options.z_dim, info.channels, info.image_size),
            VanillaDiscriminator(info.channels, info.image_size, pack=options.pack, minibatch_std=options.minibatch_std))


def _dcgan_players(options: DCGANOptions, info: DataInfo):
    return (DCGANGenerator(options.z_dim, info.channels, info.image_size, options.width, channel_max=options.channel_max),
            DCGANDiscriminator(info.channels, info.image_size, options.d_width or options.width, pack=options.pack,
                               minibatch_std=options.minibatch_std, channel_max=options.channel_max))


register(Family("vanilla", "fully connected GAN of the textbook MNIST example", VanillaOptions,
                build_adversarial(_vanilla_players), default_image_size=28, default_steps=6000,
                default_batch_size=128))
# dcgan's learning rate is twice the paper's 2e-4: better FD on MNIST and FID on colour icons at equal rounds
# (docs/speed.md, "Batch size and learning rate"); the dcgan-64 preset keeps the paper's.
register(Family("dcgan", "deep convolutional GAN (Radford et al. 2015)", DCGANOptions,
                build_adversarial(_dcgan_players), default_image_size=32, default_steps=5000, default_lr=4e-4))
