"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN.

G translates an input image x into an output G(x); a PatchGAN D judges (x, y) pairs, real ones from
the data and (x, G(x)) made by G. One round: D learns real pairs vs the pairs made by the last generator
step, its objective halved as in the paper; then G learns to fool D while staying close to the target
in L1: L = L_cGAN(G, D) + λ·‖y − G(x)‖₁ with λ = 100. Learning rates stay constant for the first half of
the budget and decay linearly to zero over the second (`set_phase`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import LOSS_G
from ganforge.data.dataset import to_float
from ganforge.data.paired import MNIST_EDGES, PairedBatchSource, PairedData, load_paired
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.registry import ADVERSARIAL_KEYS, Family, register
from ganforge.games.toolkit import LastFakes, discriminator_loss, frozen, generator_loss, run_penalties
from ganforge.kinds import declare
from ganforge.losses import AdversarialLoss, get_loss
from ganforge.models.pix2pix import UNetGenerator
from ganforge.nn.configurable import default_of
from ganforge.nn.modes import eval_mode
from ganforge.nn.patchgan import patch_map_size
from ganforge.schedules import constant_then_linear

SWITCHES = ("auto", "on", "off")


@dataclass
class Pix2PixOptions:
    """Options of pix2pix; 0 for a size means "chosen from the image size" (see `resolved`)."""

    width: int = 0  #: generator channels of its first layer (paper: 64); 0: 32 below 128 px, else 64
    n_down: int = 0  #: U-Net downsamplings; 0: halve down to 1x1 (8 at 256 px, 5 at 32 px), at most 8
    norm: str = default_of(UNetGenerator, "norm")  #: batch (the paper's) or instance, in both players
    dropout: float = default_of(UNetGenerator, "dropout")  #: dropout rate of the first decoder blocks (0: a deterministic generator)
    n_dropout: int = default_of(UNetGenerator, "n_dropout")  #: decoder blocks with dropout, counted from the bottleneck
    sample_dropout: bool = default_of(UNetGenerator, "sample_dropout")  #: keep dropout on when sampling (the paper's test-time noise)
    d_width: int = 0  #: discriminator channels of its first layer (paper: 64); 0: 32 below 128 px, else 64
    d_layers: int = 0  #: strided PatchGAN layers (3: 70x70 patches, 2: 34x34, 1: 16x16); 0: 2 below 64 px, else 3
    conditional: bool = True  #: D sees (input, output) pairs; off: the output alone (the paper's "GAN" ablation)
    lambda_l1: float = 100.0  #: weight λ of the L1 term (0: the adversarial term alone, "cGAN" ablation)
    adversarial: bool = True  #: train against a discriminator (off: L1 alone, no D, the "L1" ablation)
    decay_start: float = 0.5  #: fraction of the run after which both learning rates fall linearly to 0
    jitter: str = "auto"  #: resize-up-and-random-crop of training pairs: auto (on), on, off
    flip: str = "auto"  #: random mirroring of training pairs: auto (on, except mnist-edges digits), on, off

    def validate(self) -> None:
        """Reject negative sizes and weights and unknown names."""
        for name in ("width", "n_down", "d_width", "d_layers", "n_dropout"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"pix2pix option {name}={getattr(self, name)} is invalid; expected an integer >= 0.")
        if self.norm not in ("batch", "instance"):
            raise GanforgeError(f"pix2pix option norm={self.norm!r} is invalid; expected batch or instance.")
        if not 0 <= self.dropout < 1:
            raise GanforgeError(f"pix2pix option dropout={self.dropout} is invalid; expected 0 <= value < 1.")
        if self.lambda_l1 < 0:
            raise GanforgeError(f"pix2pix option lambda_l1={self.lambda_l1} is invalid; expected a number >= 0.")
        if not self.adversarial and self.lambda_l1 == 0:
            raise GanforgeError("pix2pix options adversarial=false and lambda_l1=0 leave nothing to learn; expected one of them on.")
        if not 0 <= self.decay_start <= 1:
            raise GanforgeError(f"pix2pix option decay_start={self.decay_start} is invalid; expected 0 <= value <= 1.")
        for name in ("jitter", "flip"):
            if getattr(self, name) not in SWITCHES:
                raise GanforgeError(f"pix2pix option {name}={getattr(self, name)!r} is invalid; expected auto, on or off.")

    def resolved(self, image_size: int) -> Pix2PixOptions:
        """A copy with every automatic (0) size replaced by its value for `image_size`."""
        from ganforge.models.pix2pix import auto_depth

        wide = image_size >= 128
        return replace(self, width=self.width or (64 if wide else 32), n_down=self.n_down or auto_depth(image_size),
                       d_width=self.d_width or (64 if wide else 32), d_layers=self.d_layers or (2 if image_size < 64 else 3))


@dataclass(frozen=True, eq=False)
class PairedInfo(DataInfo):
    """DataInfo of a paired task: `channels` are the output's, `in_channels` the input's; names and data."""

    in_channels: int = 0
    domains: tuple = ("A", "B")
    data: Optional[PairedData] = field(default=None, repr=False)


def _gray_to(images: Tensor, channels: int) -> Tensor:
    return images.expand(-1, channels, -1, -1) if images.shape[1] != channels else images


class Pix2PixGame(Game):
    """Players "generator" (U-Net) and "discriminator" (conditional PatchGAN), one Adam each."""

    generator_name = "generator"

    def __init__(self, runtime: Runtime, info: DataInfo, options: Pix2PixOptions, loss: AdversarialLoss, cfg: TrainConfig):
        super().__init__(runtime, info)
        from ganforge.models.pix2pix import PatchGANDiscriminator, UNetGenerator

        opts = options.resolved(info.image_size)
        multiple = 2 ** opts.n_down
        if info.image_size % multiple:
            raise GanforgeError(f"Image size {info.image_size} does not suit a U-Net with n_down={opts.n_down}; "
                                f"expected a multiple of {multiple}.")
        if opts.adversarial and patch_map_size(info.image_size, opts.d_layers) < 1:
            raise GanforgeError(f"Image size {info.image_size} is too small for a PatchGAN with d_layers={opts.d_layers}; "
                                "expected fewer d_layers or a larger image size.")
        c_in = getattr(info, "in_channels", 0) or info.channels
        self.options, self.in_channels = opts, c_in
        betas = (cfg.beta1, cfg.beta2)
        self.seat(generator=UNetGenerator(c_in, info.channels, opts.width, opts.n_down, opts.norm, opts.dropout,
                                          opts.n_dropout, opts.sample_dropout))
        self.add_adam("generator", cfg.lr_g, betas)
        if opts.adversarial:
            d_channels = c_in + info.channels if opts.conditional else info.channels
            self.seat(discriminator=PatchGANDiscriminator(d_channels, opts.d_width, opts.d_layers, opts.norm))
            self.add_adam("discriminator", cfg.lr_d, betas)
            self.penalties = run_penalties(cfg, loss)
        self.loss = loss
        self.critic_steps = cfg.n_critic if opts.adversarial else 0
        self.last_fakes = self.keep_in_state("fake", LastFakes(runtime, ("a", "out")))  # (input, G(input)) of the last generator step

    # --- schedule -------------------------------------------------------------------------------
    def set_phase(self, step: int, total_steps: int) -> None:
        """Constant learning rates, then linear decay to zero from `decay_start` of the run (Isola et al. 2017)."""
        self.scale_learning_rates(constant_then_linear(step, total_steps, self.options.decay_start))

    # --- one round ------------------------------------------------------------------------------
    def _pair(self, condition: Tensor, image: Tensor) -> Tensor:
        """What D sees: input and output concatenated on channels (the output alone when unconditional)."""
        return torch.cat([condition, image], dim=1) if self.options.conditional else image

    def _critic(self, images: Tensor) -> Tensor:
        """D's score map of pairs, in full precision."""
        return self.players["discriminator"](images).float()

    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update D on real pairs of this batch vs the pairs made by the last generator step; objective halved."""
        a, b = batch["a"], batch["b"]
        held = self.last_fakes.take()
        if held is None:  # first round (or a further critic step): translate this batch
            with torch.no_grad():
                held = (a, self.generator(a))
        fake_in, fake_out = held
        real, fake = self._pair(a, b), self._pair(fake_in, fake_out.to(b.dtype))
        # one pass where instance norm keeps samples independent; batch norm normalises real and fake apart, as in the paper
        terms = discriminator_loss(self._critic, real, fake, self.loss, self.penalties,
                                   joint=self.options.norm == "instance", scale=0.5)
        self.update("discriminator", terms.loss)
        return terms.logs

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update G: adversarial loss of (x, G(x)) under the frozen D plus λ·L1(G(x), y)."""
        opts = self.options
        a, b = batch["a"], batch["b"]
        fake = self.generator(a)
        l1 = (fake.float() - b.float()).abs().mean()
        logs = {"loss_l1": l1.detach()}
        loss = opts.lambda_l1 * l1
        if opts.adversarial:
            with frozen(self.players["discriminator"]):
                adversarial = generator_loss(self._critic, self._pair(a, fake), self.loss, self._pair(a, b))
            loss = adversarial + loss
            logs["loss_g_adv"] = adversarial.detach()
        self.update("generator", loss)
        if opts.adversarial:
            self.last_fakes.keep(a, fake)
        return {LOSS_G: loss.detach(), **logs}

    # --- what a person sees -----------------------------------------------------------------------
    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Up to eight pairs (fewer if `n` < 8) of the training data, picked with `generator`."""
        data = getattr(self.info, "data", None)
        if data is None:
            raise GanforgeError("This pix2pix game has no paired data to preview; expected a PairedInfo with data.")
        k = max(1, min(8, n, len(data)))
        index = torch.randint(0, len(data), (k,), generator=generator)
        return {"a": to_float(data.a.images[index]),
                "b": to_float(data.b.images[index])}

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """One row per preview pair: input, G(input), target (gray shown as RGB beside colour)."""
        device = self.runtime.device
        a, b = inputs["a"].to(device), inputs["b"].to(device)
        if self.runtime.channels_last:
            a = a.contiguous(memory_format=torch.channels_last)
        with eval_mode(generator):
            out = generator(a).float()
        c = max(a.shape[1], b.shape[1])
        rows = torch.stack([_gray_to(a, c), _gray_to(out, c), _gray_to(b, c)], dim=1)  # (k, 3, C, H, W)
        return rows.flatten(0, 1).float().contiguous()

    def export_info(self) -> dict[str, Any]:
        """Base facts plus kind "translation", paired, the input channels and the size the U-Net accepts."""
        info = super().export_info()
        info.update(**declare("translation"), paired=True, in_channels=self.in_channels,
                    domains=list(getattr(self.info, "domains", ("A", "B"))), directions={"a2b": "generator"},
                    size_multiple=2 ** self.options.n_down)
        return info



def _switch(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


def load_data(cfg: TrainConfig, options: Pix2PixOptions, runtime: Runtime) -> PairedBatchSource:
    """The paired source for `cfg.data` (see ganforge.data.paired) with its PairedInfo; jitter per the options."""
    data = load_paired(cfg.data or MNIST_EDGES, cfg.image_size, cfg.channels)
    info = PairedInfo(data.b.channels, data.b.image_size, 0, (), in_channels=data.a.channels,
                      domains=(data.name_a, data.name_b), data=data)
    return PairedBatchSource(data, cfg.batch_size, cfg.seed, runtime.device, runtime.channels_last, runtime.rank,
                             runtime.world_size, jitter=_switch(options.jitter, True), flip=_switch(options.flip, data.flip),
                             info=info)


def build(cfg: TrainConfig, options: Pix2PixOptions, info: DataInfo, runtime: Runtime) -> Pix2PixGame:
    """The pix2pix game for a resolved config."""
    return Pix2PixGame(runtime, info, options, get_loss(cfg.loss or "non_saturating"), cfg)


register(Family("pix2pix", "paired image-to-image translation (Isola et al. 2017)", Pix2PixOptions, build,
                default_data=MNIST_EDGES, default_loss="non_saturating", default_image_size=32,
                default_steps=1000, default_batch_size=16, default_ema_decay=0.0, load_data=load_data, reads=ADVERSARIAL_KEYS,
                tiny={"image_size": 16, "options": {"width": 4, "d_width": 4}}))
