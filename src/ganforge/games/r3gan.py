"""The R3GAN game (Huang, Gokaslan, Kuleshov & Tompkin 2024): the relativistic pairing loss with R1 and R2 on
the R3GAN players, its hyperparameters following cosine schedules over the images seen.

R3GAN's contribution over the toolkit's classic round is its loss (RpGAN, `losses.py`), R2 beside R1
(`toolkit.Penalties`) and the schedules of `schedules.RecipeSchedule`; each round, `set_phase` sets the
learning rate, Adam's β2 (β1 is constant, 0 as in the paper), γ, the augmentation probability and the EMA's decay from them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor

from ganforge.config import AUGMENT_KEYS, LOSS_KEYS, TrainConfig
from ganforge.contract import LOSS_G
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.registry import Family, register
from ganforge.games.toolkit import NoiseRendering, Penalties, discriminator_loss, frozen, generator_loss
from ganforge.kinds import declare
from ganforge.losses import get_loss
from ganforge.models.r3gan import R3GANDiscriminator, R3GANGenerator
from ganforge.nn.augment import Augmenter, augmenter_from
from ganforge.nn.configurable import default_of
from ganforge.schedules import RecipeSchedule, ema_decay_for_half_life


@dataclass
class R3GANOptions:
    """Options of R3GAN; the defaults are a small network for MNIST-sized data on a CPU (presets: the paper's)."""

    z_dim: int = default_of(R3GANGenerator, "z_dim")  #: noise dimension
    widths: Optional[list] = None  #: channels of each stage from 4 px up to the image size; null: 96 up to 16 px, then halving
    blocks: int = default_of(R3GANGenerator, "blocks")  #: residual blocks per stage
    group_width: int = default_of(R3GANGenerator, "group_width")  #: channels per group of the 3×3 convolutions
    expansion: int = default_of(R3GANGenerator, "expansion")  #: inner width of a block over its outer width
    conditional: bool = False  #: condition both players on the data's class labels
    embed_dim: int = default_of(R3GANGenerator, "embed_dim")  #: class embedding width; 0: z_dim in G, the 4 px width in D
    gamma: float = 0.2  #: γ of R1 and R2 (γ/2 each) at the start; the paper: 0.05 CIFAR-10, 2 FFHQ-64, 150 FFHQ-256
    gamma_end: Optional[float] = None  #: γ at the horizon; null: a tenth of gamma
    r2: bool = True  #: R2 on generated images beside R1 (false: R1 alone, as in the paper's ablation)
    penalty_interval: int = 1  #: R1 and R2 every this many D steps, weighted by it (lazy, Karras et al. 2020); the paper: 1
    lr: float = 2e-4  #: Adam learning rate of both players at the start
    lr_end: float = 5e-5  #: learning rate at the horizon
    beta1: float = 0.0  #: Adam β1 of both players, constant (the paper: 0)
    beta2: list = field(default_factory=lambda: [0.9, 0.99])  #: Adam β2 at the start and at the horizon
    warmup: int = 0  #: images of linear learning-rate warm-up from 0
    ema_half_life: float = 10_000  #: EMA half-life in images at the horizon, ramped up from 0 (the paper: 5M CIFAR-10, 500k FFHQ)
    augment: float = 0.0  #: bgc augmentation probability at the horizon, ramped up from 0 (the paper: 0.55 CIFAR-10); 0: the run's augment
    horizon: int = 0  #: images seen over which the schedules run (the paper: 20M); 0: the whole run

    def validate(self) -> None:
        """Raise GanforgeError naming the first invalid option."""
        for name in ("z_dim", "blocks", "group_width", "expansion", "penalty_interval"):
            if getattr(self, name) < 1:
                raise GanforgeError(f"R3GAN option {name}={getattr(self, name)!r} is invalid; expected an integer >= 1.")
        for name in ("embed_dim", "warmup", "horizon", "gamma", "ema_half_life"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"R3GAN option {name}={getattr(self, name)!r} is invalid; expected a number >= 0.")
        if not (self.lr > 0 and self.lr_end > 0):
            raise GanforgeError(f"R3GAN options lr={self.lr!r}, lr_end={self.lr_end!r} are invalid; expected numbers > 0.")
        if self.gamma_end is not None and self.gamma_end < 0:
            raise GanforgeError(f"R3GAN option gamma_end={self.gamma_end!r} is invalid; expected a number >= 0, or null for a tenth of gamma.")
        if not (isinstance(self.beta1, (int, float)) and 0 <= self.beta1 < 1):
            raise GanforgeError(f"R3GAN option beta1={self.beta1!r} is invalid; expected a number in [0, 1).")
        if len(self.beta2) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.beta2):
            raise GanforgeError(f"R3GAN option beta2={self.beta2!r} is invalid; expected two numbers in [0, 1) (start, end).")
        if not 0 <= self.augment <= 1:
            raise GanforgeError(f"R3GAN option augment={self.augment!r} is invalid; expected a probability from 0 to 1.")
        if self.horizon and self.warmup >= self.horizon:
            raise GanforgeError(f"R3GAN option warmup={self.warmup!r} is invalid; expected fewer images than horizon={self.horizon}.")


class R3GANGame(NoiseRendering, Game):
    """The classic round on R3GAN's players: D on real vs fake with R1 and R2, then G through a frozen D,
    every scheduled value set from the images seen before the round."""

    def __init__(self, runtime: Runtime, info: DataInfo, cfg: TrainConfig, options: R3GANOptions):
        super().__init__(runtime, info)
        o = options
        if o.conditional and info.num_classes == 0:
            raise GanforgeError(f"Option conditional=True needs labelled data, but {cfg.data!r} has no labels; "
                                "expected class sub-folders or conditional=false.")
        classes = info.num_classes if o.conditional else 0
        shape = dict(widths=o.widths, blocks=o.blocks, group_width=o.group_width, expansion=o.expansion,
                     num_classes=classes, embed_dim=o.embed_dim)
        self.seat(generator=R3GANGenerator(o.z_dim, info.channels, info.image_size, **shape),
                  discriminator=R3GANDiscriminator(info.channels, info.image_size, **shape))
        self.add_adam("generator", o.lr, (o.beta1, o.beta2[0]))
        self.add_adam("discriminator", o.lr, (o.beta1, o.beta2[0]))
        self.critic_steps = cfg.n_critic
        self.loss = get_loss(cfg.loss or "relativistic_pairing")
        self.gp_weight = cfg.gp_weight if self.loss.needs_gradient_penalty else 0.0
        self.options, self.conditional = o, classes > 0
        if o.augment > 0 and cfg.augment != "none":
            raise GanforgeError(f"R3GAN option augment={o.augment!r} and config value augment={cfg.augment!r} both choose an "
                                "augmentation; expected one of them (option augment schedules the bgc probability).")
        self.augmenter = Augmenter("fixed", 0.0) if o.augment > 0 else augmenter_from(cfg)
        self.images_per_round = cfg.batch_size * runtime.world_size
        self.ema_decay: Optional[float] = None
        self.d_steps = 0
        self.set_phase(0, 1)

    def recipe(self, total_steps: int) -> RecipeSchedule:
        """The schedule of this run: the options' start and end values over the horizon (the whole run by default)."""
        o = self.options
        horizon = o.horizon or max(total_steps, 1) * self.images_per_round
        gamma_end = o.gamma / 10 if o.gamma_end is None else o.gamma_end
        return RecipeSchedule(horizon=horizon, warmup=min(o.warmup, horizon // 2), lr=(o.lr, o.lr_end),
                              beta2=(o.beta2[0], o.beta2[1]), gamma=(o.gamma, gamma_end),
                              ema_half_life=(0.0, o.ema_half_life), augment_p=(0.0, o.augment))

    def set_phase(self, step: int, total_steps: int) -> None:
        """Set lr, β2, γ, the augmentation probability and the EMA decay for the round after `step` rounds."""
        values = self.recipe(total_steps).at(step * self.images_per_round)
        self.scale_learning_rates(values["lr"] / self.options.lr)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["betas"] = (self.options.beta1, values["beta2"])
        gamma = values["gamma"]
        self.penalties = Penalties(r1_gamma=gamma, r2_gamma=gamma if self.options.r2 else 0.0, gp_weight=self.gp_weight,
                                   interval=self.options.penalty_interval)
        if self.options.augment > 0:
            self.augmenter.schedule(values["augment_p"])
        self.ema_decay = ema_decay_for_half_life(values["ema_half_life"], self.images_per_round)

    def current_ema_decay(self) -> Optional[float]:
        """The decay the scheduled EMA half-life gives this round."""
        return self.ema_decay

    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One D update: the adversarial loss on real vs G(z), plus γ/2·R1 and γ/2·R2 (every penalty_interval steps)."""
        G, D = self.players["generator"], self.players["discriminator"]
        real, labels = batch["images"], self._labels(batch)
        with torch.no_grad():
            fake = G(self._noise(real.shape[0]), labels)
        terms = discriminator_loss(lambda x: D(x, labels), real, fake, self.loss, self.penalties, d_step=self.d_steps,
                                   augment=self.augmenter)
        self.d_steps += 1
        self.update("discriminator", terms.loss)
        return terms.logs

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One G update through a frozen D, which also scores the real batch for the paired loss."""
        G, D = self.players["generator"], self.players["discriminator"]
        real, labels = batch["images"], self._labels(batch)
        with frozen(D):
            loss = generator_loss(lambda x: D(x, labels), G(self._noise(real.shape[0]), labels), self.loss, real,
                                  self.augmenter)
            self.update("generator", loss)
        return {LOSS_G: loss.detach()}

    def export_info(self) -> dict:
        """Base facts, declaring a noise-driven generator."""
        return {**super().export_info(), **declare("noise")}

    def extra_state(self) -> dict:
        """The D-step counter that places lazy penalties, and the augmentation controller when one is on."""
        return {"d_steps": self.d_steps, **({"augment": self.augmenter.state_dict()} if self.augmenter.active else {})}

    def load_extra_state(self, state: dict) -> None:
        """Restore the D-step counter and the augmentation controller."""
        self.d_steps = int(state.get("d_steps", 0))
        self.augmenter.load_state_dict(state.get("augment", {}))


def build_r3gan(cfg: TrainConfig, options: R3GANOptions, info: DataInfo, runtime: Runtime) -> R3GANGame:
    """The R3GAN game for a run."""
    return R3GANGame(runtime, info, cfg, options)


register(Family("r3gan", "R3GAN: relativistic pairing loss with R1 + R2 on a modern residual backbone (Huang et al. 2024)",
                R3GANOptions, build_r3gan, default_loss="relativistic_pairing", default_image_size=32,
                default_steps=3000, default_ema_decay=0.999,
                reads=frozenset(LOSS_KEYS + ("n_critic", "gp_weight") + AUGMENT_KEYS),  # lr, betas and γ (R1 + R2) are its options
                tiny={"image_size": 8, "options": {"z_dim": 8, "widths": [32, 16], "blocks": 1, "group_width": 8,
                                                   "ema_half_life": 64, "augment": 0.2,
                                                   "penalty_interval": 2}}))
