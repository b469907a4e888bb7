"""The StyleGAN game: non-saturating logistic loss with lazy R1, style mixing, progressive growing
and DiffAugment (Karras et al. 2018, 2019, 2020; Zhao et al. 2020)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import LOSS_G
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime, latent_inputs
from ganforge.games.registry import AUGMENTED_KEYS, Family, register
from ganforge.games.shared_options import check_betas
from ganforge.games.toolkit import discriminator_loss, frozen, generator_loss, in_passes, run_penalties
from ganforge.kinds import declare
from ganforge.losses import get_loss
from ganforge.models.stylegan import StyleGANDiscriminator, StyleGANGenerator, check_image_size
from ganforge.nn.augment import augmenter_from
from ganforge.nn.configurable import default_of
from ganforge.nn.diffaugment import parse_policy
from ganforge.nn.modes import eval_mode
from ganforge.schedules import GrowthSchedule, growth_phase, level_of, resolution_of


@dataclass
class StyleGANOptions:
    """Options of StyleGAN; the defaults are a small network that trains on MNIST 32 px on a CPU."""

    z_dim: int = default_of(StyleGANGenerator, "z_dim")  #: noise dimension
    w_dim: int = default_of(StyleGANGenerator, "w_dim")  #: style (w) dimension
    mapping_layers: int = default_of(StyleGANGenerator, "mapping_layers")  #: layers of the mapping MLP
    mapping_lr_mul: float = default_of(StyleGANGenerator, "mapping_lr_mul")  #: learning-rate multiplier of the mapping network
    channel_base: int = default_of(StyleGANGenerator, "channel_base")  #: feature maps at resolution r are channel_base / r ...
    channel_max: int = default_of(StyleGANGenerator, "channel_max")  #: ... capped at channel_max
    modulation: str = default_of(StyleGANGenerator, "modulation")  #: "demod" (weight demodulation, StyleGAN2) or "adain" (StyleGAN)
    noise: bool = default_of(StyleGANGenerator, "noise")  #: per-pixel noise inputs
    tanh_output: bool = default_of(StyleGANGenerator, "tanh_output")  #: squash images with tanh (flat MNIST backgrounds); false: linear, as in the papers
    style_mixing: float = 0.9  #: probability that a generated image mixes the styles of two z
    r1_gamma: float = 0.1  #: R1 weight γ on real images (0: off)
    r1_interval: int = 16  #: discriminator steps between R1 evaluations (lazy regularization)
    growth: bool = True  #: progressive growing from start_resolution to the image size
    start_resolution: int = 4  #: first resolution trained when growing
    fade: float = 0.1  #: fraction of all steps spent fading in each new resolution
    stable: float = 0.1  #: fraction of all steps spent stable at each resolution before the last
    diffaugment: str = ""  #: older spelling of the run settings augment=diffaugment, diffaugment_policy=<this>; "" off
    conditional: bool = False  #: condition both players on the data's class labels
    lr: Optional[float] = 0.002  #: Adam learning rate of both players; null: the run's lr_g and lr_d
    betas: Optional[list] = field(default_factory=lambda: [0.0, 0.99])  #: Adam (β1, β2); null: the run's
    mbstd_group: int = default_of(StyleGANDiscriminator, "mbstd_group")  #: group size of the minibatch standard deviation
    w_avg_beta: float = default_of(StyleGANGenerator, "w_avg_beta")  #: decay of the tracked mean of w

    def validate(self) -> None:
        """Raise GanforgeError naming the first invalid option."""
        from ganforge.models.stylegan_synthesis import MODULATIONS

        positive = ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "r1_interval", "mbstd_group")
        for name in positive:
            if getattr(self, name) < 1:
                raise GanforgeError(f"StyleGAN option {name}={getattr(self, name)!r} is invalid; expected an integer >= 1.")
        if self.modulation not in MODULATIONS:
            raise GanforgeError(f"StyleGAN option modulation={self.modulation!r} is invalid; expected one of {', '.join(MODULATIONS)}.")
        for name in ("style_mixing", "w_avg_beta"):
            if not 0 <= getattr(self, name) <= 1:
                raise GanforgeError(f"StyleGAN option {name}={getattr(self, name)!r} is invalid; expected a number from 0 to 1.")
        for name in ("r1_gamma", "fade", "stable"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"StyleGAN option {name}={getattr(self, name)!r} is invalid; expected a number >= 0.")
        if self.mapping_lr_mul <= 0 or (self.lr is not None and self.lr <= 0):
            raise GanforgeError(f"StyleGAN options mapping_lr_mul={self.mapping_lr_mul!r}, lr={self.lr!r} are invalid; expected numbers > 0.")
        check_betas(self.betas, "StyleGAN option betas")
        level_of(self.start_resolution)
        parse_policy(self.diffaugment)


class StyleGANGame(Game):
    """StyleGAN's round: D on real vs mixed-style fakes (lazy R1 every r1_interval D steps), then G."""

    def __init__(self, runtime: Runtime, info: DataInfo, cfg: TrainConfig, options: StyleGANOptions):
        super().__init__(runtime, info)
        check_image_size(info.image_size)
        if options.conditional and info.num_classes == 0:
            raise GanforgeError(f"Option conditional=True needs labelled data, but {cfg.data!r} has no labels"
                                f"; expected class sub-folders or conditional=false.")
        classes = info.num_classes if options.conditional else 0
        o = options
        generator = StyleGANGenerator(o.z_dim, o.w_dim, info.channels, info.image_size, classes, o.mapping_layers,
                                      o.mapping_lr_mul, o.channel_base, o.channel_max, o.modulation, o.noise, o.w_avg_beta,
                                      o.tanh_output)
        discriminator = StyleGANDiscriminator(info.channels, info.image_size, classes, o.channel_base,
                                              o.channel_max, o.mbstd_group)
        self.seat(generator=generator, discriminator=discriminator)
        lr_g, lr_d = (o.lr, o.lr) if o.lr is not None else (cfg.lr_g, cfg.lr_d)
        b1, b2 = (float(b) for b in (o.betas if o.betas is not None else (cfg.beta1, cfg.beta2)))
        # lazy regularization: rescale D's Adam so its per-image dynamics match a regularized step every time
        c = o.r1_interval / (o.r1_interval + 1) if o.r1_gamma > 0 else 1.0
        self.add_adam("generator", lr_g, (b1, b2))
        self.add_adam("discriminator", lr_d * c, (b1 ** c, b2 ** c))
        self.loss = get_loss(cfg.loss or "non_saturating")
        self.penalties = run_penalties(cfg, self.loss, o.r1_gamma, o.r1_interval)
        self.critic_steps = cfg.n_critic
        self.options = o
        self.conditional = classes > 0
        self.augmenter = augmenter_from(_augment_settings(cfg, o))
        final = level_of(info.image_size)
        start = level_of(o.start_resolution) if o.growth else final
        self.schedule = GrowthSchedule(start, final, o.fade, o.stable)
        self.schedule.validate()
        self.d_steps = 0
        self.level, self.alpha = growth_phase(0, 1, self.schedule)
        self.generator.set_phase(self.level, self.alpha)

    # --- schedule ---------------------------------------------------------------------------------
    def set_phase(self, step: int, total_steps: int) -> None:
        """Move to the growth phase of this round (a pure function of step and total)."""
        self.level, self.alpha = growth_phase(step, total_steps, self.schedule)
        self.generator.set_phase(self.level, self.alpha)

    @property
    def resolution(self) -> int:
        """Side in pixels that the players work at in the current phase."""
        return resolution_of(self.level)

    # --- helpers ------------------------------------------------------------------------------------
    def _labels(self, batch: Batch) -> Optional[Tensor]:
        return batch["labels"] if self.conditional else None

    def real_images(self, images: Tensor) -> Tensor:
        """Real images at the current resolution (average-pooled), faded like the generator's output."""
        factor = images.shape[-1] // self.resolution
        x = F.avg_pool2d(images, factor) if factor > 1 else images
        if self.alpha < 1.0 and self.level > 0:
            low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
            x = torch.lerp(low, x, self.alpha)
        return x

    def fake_images(self, n: int, labels: Optional[Tensor], update_w_avg: bool = False) -> Tensor:
        """G's images at the current phase; with probability style_mixing an image takes the styles
        after a random layer from a second z (Karras et al. 2019, §3.1)."""
        G = self.generator
        device = self.runtime.device
        ws = G.mapping(torch.randn(n, G.z_dim, device=device), labels, update_w_avg=update_w_avg)
        active = 2 * (self.level + 1)
        if self.options.style_mixing > 0 and active > 1:
            ws2 = G.mapping(torch.randn(n, G.z_dim, device=device), labels)
            cutoff = torch.randint(1, active, (n,), device=device)
            mixed = torch.rand(n, device=device) < self.options.style_mixing
            cutoff = torch.where(mixed, cutoff, torch.full_like(cutoff, G.num_ws))
            keep = torch.arange(G.num_ws, device=device).view(1, -1) < cutoff.view(-1, 1)
            ws = torch.where(keep.unsqueeze(-1), ws, ws2)
        return G.synthesize(ws, self.level, self.alpha, "random")

    @property
    def discriminator(self) -> nn.Module:
        """The discriminator player."""
        return self.players["discriminator"]

    # --- one round ------------------------------------------------------------------------------------
    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One D update on real vs generated images, adding γ/2·‖∇D(x)‖²·interval every r1_interval steps."""
        labels = self._labels(batch)
        real = self.real_images(batch["images"])
        with torch.no_grad():
            fake = self.fake_images(real.shape[0], labels)
        terms = discriminator_loss(self._critic(labels), real, fake, self.loss, self.penalties, d_step=self.d_steps,
                                   augment=self.augmenter)
        self.d_steps += 1
        self.update("discriminator", terms.loss)
        return terms.logs

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One G update through a frozen D; also moves the tracked mean of w."""
        labels = self._labels(batch)
        with frozen(self.discriminator):
            fake = self.fake_images(batch["images"].shape[0], labels, update_w_avg=True)
            loss = generator_loss(self._critic(labels), fake, self.loss, self.real_images(batch["images"]), self.augmenter)
            self.update("generator", loss)
        device = self.runtime.device
        return {LOSS_G: loss.detach(), "resolution": torch.full((), float(self.resolution), device=device),
                "alpha": torch.full((), self.alpha, device=device)}

    def _critic(self, labels: Optional[Tensor]):
        """D at the current phase, for the given labels."""
        return lambda images: self.discriminator(images, labels, self.alpha)

    # --- what a person sees -----------------------------------------------------------------------
    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed z (and labels cycling through the classes for conditional players)."""
        return latent_inputs(n, self.generator.z_dim, generator, self.generator.num_classes if self.conditional else 0)

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Images at the current phase with constant noise, upsampled (nearest) to the full image size."""
        device = self.runtime.device

        def make(rows: dict[str, Tensor]) -> Tensor:
            labels = rows.get("labels")
            return generator(rows["z"].to(device), None if labels is None else labels.to(device),
                             level=self.level, alpha=self.alpha, noise_mode="const")

        with eval_mode(generator):
            images = in_passes(make, inputs, self.info.image_size)
        if images.shape[-1] != self.info.image_size:
            images = F.interpolate(images.float(), size=(self.info.image_size,) * 2, mode="nearest")
        return images.float()

    def export_info(self) -> dict:
        """Base facts, kind "stylegan" (truncation, w space, labels when conditional) and the resolution grown to."""
        capabilities = ["truncation", "w_space"] + (["labels"] if self.conditional else [])
        return {**super().export_info(), **declare("stylegan", *capabilities), "trained_resolution": self.resolution,
                "growth_alpha": self.alpha}

    # --- state ----------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        """The D-step counter that places lazy R1 steps, and the augmentation controller (ADA's p)."""
        return {"d_steps": self.d_steps, **({"augment": self.augmenter.state_dict()} if self.augmenter.active else {})}

    def load_extra_state(self, state: dict) -> None:
        """Restore the D-step counter and the augmentation controller."""
        self.d_steps = int(state.get("d_steps", 0))
        self.augmenter.load_state_dict(state.get("augment", {}))


def _augment_settings(cfg: TrainConfig, options: StyleGANOptions):
    """The run's augment settings, with the older option diffaugment=<policy> read as augment=diffaugment."""
    if not options.diffaugment:
        return cfg
    if cfg.augment not in ("none", "diffaugment"):
        raise GanforgeError(f"StyleGAN option diffaugment={options.diffaugment!r} and config value augment={cfg.augment!r} "
                            "both choose an augmentation; expected one of them (diffaugment=<policy> is the older spelling of "
                            "augment=diffaugment with diffaugment_policy=<policy>).")
    return dataclasses.replace(cfg, augment="diffaugment", diffaugment_policy=options.diffaugment)


def stylegan_reads(options: StyleGANOptions) -> frozenset:
    """The run settings StyleGAN reads: the option lr replaces lr_g and lr_d, the option betas beta1 and beta2
    (set either option to null to use the run's)."""
    replaced = (("lr_g", "lr_d") if options.lr is not None else ()) + (("beta1", "beta2") if options.betas is not None else ())
    return AUGMENTED_KEYS - frozenset(replaced)


def build_stylegan(cfg: TrainConfig, options: StyleGANOptions, info: DataInfo, runtime: Runtime) -> StyleGANGame:
    """The StyleGAN game for a run."""
    return StyleGANGame(runtime, info, cfg, options)


register(Family("stylegan", "StyleGAN: mapping network, styles, mixing, progressive growing (Karras et al. 2019, 2020)",
                StyleGANOptions, build_stylegan, default_image_size=32, default_steps=3000,
                default_ema_decay=0.98, reads=stylegan_reads,
                tiny={"image_size": 16, "options": {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 64,
                                                    "channel_max": 8, "fade": 0.3, "stable": 0.1, "r1_interval": 2}}))
