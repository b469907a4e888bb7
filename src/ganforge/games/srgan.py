"""Super-resolution (SRGAN, Ledig et al. 2017; ESRGAN, Wang et al. 2018): an LR image in, an HR image out.

Two phases in one run, chosen by the round (`set_phase`, `ganforge.schedules.psnr_then_gan`):

- "psnr" (the first `psnr_fraction` of the rounds): G alone learns L1 to the HR crop, no D;
- "gan" (the rest, from those weights): D learns the relativistic average loss (RaGAN) on HR crops
  vs G's outputs *of those same crops*; G learns  l1_weight·L1 + perceptual_weight·L_percep +
  gan_weight·L_RaGAN (ESRGAN: 1e-2, 1 and 5e-3), its learning rate times `gan_lr_factor` (ESRGAN: 2e-4,
  then 1e-4).

D judges the batch G has just trained on: the HR crops and G's outputs of their LR (ESRGAN's and
Real-ESRGAN's schedule: one batch per iteration, G's step then D's). Measured (docs/superres.md): with
the HR crops of another batch D stayed at chance for hundreds of rounds, with the same crops it left
chance within 60 steps — an SR output differs from its original by fine detail, far less than two
random crops differ in content.

D's loss is RaGAN (ESRGAN's), or with `loss: relativistic_pairing` each real pixel's score against the
same pixel of G's output of that crop (no pull on the spread of a per-pixel D's scores where the two
cannot be told apart; docs/superres.md measures both).

The perceptual term needs no download: by default it is discriminator feature matching (the L1
distance between D's intermediate features of the SR output and of the HR crop, averaged over
layers; Wang et al. 2018, pix2pixHD), and with `vgg19_weights=FILE` (torchvision's vgg19 state-dict)
the L1 distance of VGG-19 conv5_4 features before activation (ESRGAN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn

from ganforge.config import LOSS_KEYS, OPTIMIZER_KEYS, TrainConfig
from ganforge.contract import LOSS_G
from ganforge.data.superres import (
    DEGRADATIONS,
    SCALES,
    SuperResBatchSource,
    SuperResData,
    auto_crop,
    bicubic_upscale,
    load_images,
    make_degradation,
    split_files,
    superres_from_tensor,
)
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.registry import Family, register
from ganforge.games.shared_options import check_betas
from ganforge.games.toolkit import LastFakes, discriminator_loss, frozen, run_penalties
from ganforge.kinds import declare
from ganforge.losses import get_loss
from ganforge.models.srgan import DISCRIMINATORS, SKIP_UPSCALES, UPSAMPLES, RRDBGenerator
from ganforge.nn.configurable import default_of
from ganforge.nn.modes import eval_mode
from ganforge.schedules import psnr_then_gan

EMBEDDED = ("mnist", "fashion-mnist")
#: D's losses: ESRGAN's relativistic average, or relativistic pairing of each real pixel's score with the same
#: pixel of G's output of that crop (for the per-pixel U-Net D; docs/superres.md)
LOSSES = ("ragan", "relativistic_pairing")


@dataclass
class SRGANOptions:
    """Options of the super-resolution family (sizes default to ESRGAN's; on a CPU try blocks=4, features=32, growth=16)."""

    scale: int = default_of(RRDBGenerator, "scale")  #: upscaling factor, 2 or 4
    blocks: int = default_of(RRDBGenerator, "blocks")  #: RRDB blocks in the generator's trunk (ESRGAN: 23)
    features: int = default_of(RRDBGenerator, "features")  #: channels of the trunk (ESRGAN: 64)
    growth: int = default_of(RRDBGenerator, "growth")  #: channels added by each dense layer (ESRGAN: 32)
    upsample: str = default_of(RRDBGenerator, "upsample")  #: nearest (nearest + conv, ESRGAN) or pixelshuffle
    image_skip: bool = default_of(RRDBGenerator, "image_skip")  #: G predicts a correction to the upscaled input
    skip_upscale: str = default_of(RRDBGenerator, "skip_upscale")  #: the skip's upscaling: bicubic (MATLAB's, the baseline) or bilinear
    crop: int = 0  #: HR crop side in pixels (ESRGAN: 128); 0: 128, or the largest the smallest image holds (16 for 28-px digits at x2)
    min_texture: float = 4.0  #: refuse flatter HR crops: mean absolute luma gradient in 8-bit levels (data.texture); 0: any crop
    discriminator: str = "unet"  #: unet (Real-ESRGAN, spectral norm, per-pixel scores) or vgg (SRGAN/ESRGAN)
    d_width: int = 64  #: discriminator channels of its first layer
    psnr_fraction: float = 0.5  #: share of the rounds trained with L1 alone before the GAN phase
    l1_weight: float = 1e-2  #: weight of the pixel L1 term in the GAN phase (ESRGAN: 1e-2)
    perceptual_weight: float = 1.0  #: weight of the perceptual term (D feature matching, or VGG-19 with vgg19_weights)
    gan_weight: float = 5e-3  #: weight of the RaGAN term in G's objective (ESRGAN: 5e-3)
    gan_lr_factor: float = 0.5  #: learning rates in the GAN phase are lr_g, lr_d times this (ESRGAN: 1e-4 after 2e-4)
    #: D's Adam (β1, β2), e.g. [0.9, 0.9] for a short memory of its gradients (D steps only in the GAN phase); null: the run's beta1, beta2
    d_betas: Optional[list] = None
    #: γ of R1 on D's real HR crops, γ/2·E‖∇D(x)‖² over D's summed scores (Mescheder et al. 2018), every D step; 0: off.
    #: With the run's `r2_gamma`, R2 on G's outputs beside it
    r1_gamma: float = 0.0
    vgg19_weights: str = ""  #: torchvision vgg19 state-dict file for a VGG-19 perceptual loss; empty: D feature matching
    holdout_every: int = 4  #: every n-th image file (name order) is held out for evaluation (0: none); train/ + test/ override
    augment: bool = True  #: random mirrors and transposes of the crops
    degradation: str = "bicubic"  #: how the training LR is made: bicubic (MATLAB imresize, SRGAN/ESRGAN) or realesrgan (blind, two rounds)
    #: realesrgan parameters over the paper's (names of ganforge.data.realesrgan.RealESRGANConfig), e.g. {noise_range: [1, 20]}
    degradation_options: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Reject unknown names and impossible sizes or weights."""
        if self.scale not in SCALES:
            raise GanforgeError(f"srgan option scale={self.scale} is invalid; expected one of {', '.join(map(str, SCALES))}.")
        if self.crop < 0 or self.crop % self.scale:
            raise GanforgeError(f"srgan option crop={self.crop} is invalid; expected 0 (automatic) or a multiple of scale={self.scale}.")
        for name in ("blocks", "features", "growth", "d_width"):
            if getattr(self, name) < 1:
                raise GanforgeError(f"srgan option {name}={getattr(self, name)} is invalid; expected an integer >= 1.")
        if self.upsample not in UPSAMPLES:
            raise GanforgeError(f"srgan option upsample={self.upsample!r} is invalid; expected {' or '.join(UPSAMPLES)}.")
        if self.skip_upscale not in SKIP_UPSCALES:
            raise GanforgeError(f"srgan option skip_upscale={self.skip_upscale!r} is invalid; expected {' or '.join(SKIP_UPSCALES)}.")
        if self.discriminator not in DISCRIMINATORS:
            raise GanforgeError(f"srgan option discriminator={self.discriminator!r} is invalid; expected {' or '.join(DISCRIMINATORS)}.")
        if not (math.isfinite(self.min_texture) and self.min_texture >= 0):
            raise GanforgeError(f"srgan option min_texture={self.min_texture} is invalid; expected a number >= 0 (0: any crop).")
        if not 0 <= self.psnr_fraction <= 1:
            raise GanforgeError(f"srgan option psnr_fraction={self.psnr_fraction} is invalid; expected 0 <= value <= 1.")
        for name in ("l1_weight", "perceptual_weight", "gan_weight"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"srgan option {name}={getattr(self, name)} is invalid; expected a number >= 0.")
        if not self.gan_lr_factor > 0:
            raise GanforgeError(f"srgan option gan_lr_factor={self.gan_lr_factor} is invalid; expected a number > 0.")
        check_betas(self.d_betas, "srgan option d_betas")
        if not (math.isfinite(self.r1_gamma) and self.r1_gamma >= 0):
            raise GanforgeError(f"srgan option r1_gamma={self.r1_gamma} is invalid; expected a number >= 0 (0: off).")
        if self.holdout_every < 0 or self.holdout_every == 1:
            raise GanforgeError(f"srgan option holdout_every={self.holdout_every} is invalid; expected 0 (none) or an integer >= 2.")
        if self.degradation not in DEGRADATIONS:
            raise GanforgeError(f"srgan option degradation={self.degradation!r} is invalid; expected {' or '.join(DEGRADATIONS)}.")
        make_degradation(self.degradation, self.degradation_options)


@dataclass(frozen=True, eq=False)
class SuperResInfo(DataInfo):
    """DataInfo of super-resolution: `image_size` is the HR crop, `scale` the factor; the training images and held-out names."""

    scale: int = 4
    data: Optional[SuperResData] = None
    held_out: tuple = ()


class SRGANGame(Game):
    """Players "generator" (RRDB) and "discriminator" (U-Net or VGG-style), one Adam each (D's with `d_betas` when set); phases by the round."""

    generator_name = "generator"

    def __init__(self, runtime: Runtime, info: DataInfo, options: SRGANOptions, cfg: TrainConfig):
        super().__init__(runtime, info)
        from ganforge.models.srgan import make_discriminator

        scale = getattr(info, "scale", options.scale)
        if scale != options.scale:
            raise GanforgeError(f"Data made for scale {scale} does not suit option scale={options.scale}; expected the same.")
        if info.image_size % scale:
            raise GanforgeError(f"HR crop {info.image_size} is invalid for scale {scale}; expected a multiple of {scale}.")
        self.options, self.scale = options, scale
        self.loss = get_loss(cfg.loss or "ragan")
        self.seat_pair(RRDBGenerator(info.channels, options.features, options.blocks, options.growth, scale,
                                     options.upsample, options.image_skip, options.skip_upscale),
                       make_discriminator(options.discriminator, info.channels, options.d_width, info.image_size), cfg,
                       run_penalties(cfg, self.loss, options.r1_gamma))
        if options.d_betas is not None:
            b1, b2 = (float(b) for b in options.d_betas)
            self.add_adam("discriminator", cfg.lr_d, (b1, b2))
        self.vgg: Optional[nn.Module] = None
        if options.vgg19_weights:
            from ganforge.models.vgg19 import VGG19Features

            self.vgg = runtime.place(VGG19Features.from_file(options.vgg19_weights))
        self.phase = "psnr" if options.psnr_fraction > 0 else "gan"
        self.critic_steps = 0 if self.phase == "psnr" else 1
        # (G's output, its HR crops) of the last GAN-phase generator step: the next D step judges that same batch
        self.last_fakes = self.keep_in_state("fake", LastFakes(runtime, ("out", "hr")))

    # --- schedule -------------------------------------------------------------------------------
    def set_phase(self, step: int, total_steps: int) -> None:
        """PSNR phase (L1 only, no D) for the first `psnr_fraction` of the rounds, then the GAN phase at reduced learning rates."""
        self.phase = psnr_then_gan(step, total_steps, self.options.psnr_fraction)
        self.critic_steps = 1 if self.phase == "gan" else 0
        self.scale_learning_rates(self.options.gan_lr_factor if self.phase == "gan" else 1.0)

    # --- one round ------------------------------------------------------------------------------
    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update D with the RaGAN loss (and R1, R2 when on) on one batch of crops: their HR vs G's outputs of their LR.

        The batch is the last generator step's (its outputs held); only when none is held (the first GAN
        round, a resumed older checkpoint) does D upscale `batch` itself.
        """
        held = self.last_fakes.take()
        if held is None:
            with torch.no_grad():
                held = (self.generator(batch["a"]), batch["b"])
        fake, real = held
        critic = self.players["discriminator"]
        terms = discriminator_loss(lambda x: critic(x).float(), real, fake.to(real.dtype), self.loss, self.penalties)
        self.update("discriminator", terms.loss)
        return terms.logs

    def perceptual(self, fake: Tensor, real: Tensor, real_feats: Optional[list[Tensor]], fake_feats: Optional[list[Tensor]]) -> Tensor:
        """VGG-19 conv5_4 L1 distance when weights were given, else the mean L1 distance of D's features."""
        if self.vgg is not None:
            with torch.no_grad():
                target = self.vgg(real).float()
            return (self.vgg(fake).float() - target).abs().mean()
        terms = [(f.float() - r.float()).abs().mean() for f, r in zip(fake_feats, real_feats)]
        return torch.stack(terms).mean()

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """PSNR phase: L1. GAN phase: l1_weight·L1 + perceptual_weight·perceptual + gan_weight·RaGAN under the frozen D."""
        lr, hr = batch["a"], batch["b"]
        fake = self.generator(lr)
        l1 = (fake.float() - hr.float()).abs().mean()
        if self.phase == "psnr":
            self.update("generator", l1)
            return {LOSS_G: l1.detach(), "loss_l1": l1.detach()}
        opts = self.options
        critic = self.players["discriminator"]
        with frozen(critic):
            with torch.no_grad():
                real_logits, real_feats = critic(hr, features=True)
            fake_logits, fake_feats = critic(fake, features=True)
            adversarial = self.loss.generator(real_logits.float(), fake_logits.float())
            percep = self.perceptual(fake, hr, real_feats, fake_feats)
        loss = opts.l1_weight * l1 + opts.perceptual_weight * percep + opts.gan_weight * adversarial
        self.update("generator", loss)
        self.last_fakes.keep(fake, hr)
        return {LOSS_G: loss.detach(), "loss_l1": l1.detach(), "loss_perceptual": percep.detach(), "loss_g_adv": adversarial.detach()}

    # --- what a person sees -----------------------------------------------------------------------
    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Three (LR, HR) crops of the training images (fewer if `n` < 3; a 3x3 grid), their places drawn with `generator`."""
        data = getattr(self.info, "data", None)
        if data is None:
            raise GanforgeError("This srgan game has no images to preview; expected a SuperResInfo with data.")
        source = SuperResBatchSource(data, max(1, min(3, n)), int(torch.randint(0, 2 ** 31, (1,), generator=generator)),
                                     torch.device("cpu"), self.info.image_size, self.scale, augment=False,
                                     min_texture=self.options.min_texture,
                                     degradation=make_degradation(self.options.degradation, self.options.degradation_options))
        batch = source.next()
        return {"a": batch["a"], "b": batch["b"]}

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """One row per preview crop: bicubic, G(LR), HR (all at HR size)."""
        device = self.runtime.device
        lr, hr = inputs["a"].to(device), inputs["b"].to(device)
        with eval_mode(generator):
            out = generator(self.runtime.place_images(lr)).float().clamp(-1, 1)
        rows = torch.stack([bicubic_upscale(lr.float(), self.scale), out, hr.float()], dim=1)
        return rows.flatten(0, 1).contiguous()

    def export_info(self) -> dict[str, Any]:
        """Base facts plus kind "superres", the scale, the HR crop and the held-out file names."""
        info = super().export_info()
        info.update(**declare("superres"), scale=self.scale, hr_crop=self.info.image_size, lr_crop=self.info.image_size // self.scale,
                    held_out=list(getattr(self.info, "held_out", ())), holdout_every=self.options.holdout_every,
                    degradation=self.options.degradation,
                    perceptual="vgg19" if self.vgg is not None else "discriminator features")
        return info



def load_data(cfg: TrainConfig, options: SRGANOptions, runtime: Runtime) -> SuperResBatchSource:
    """The super-resolution source for `cfg.data` (a folder of images, or the embedded mnist / fashion-mnist digits).

    The HR crop is the `crop` option (`cfg.image_size` is not used: the images keep their own sizes).
    """
    spec = str(cfg.data or "mnist").strip()
    held_out: tuple = ()
    if spec.lower() in EMBEDDED:
        from ganforge.data import load_dataset

        digits = load_dataset(spec.lower(), channels=cfg.channels)
        data = superres_from_tensor(digits.images, spec.lower())
    else:
        root = Path(spec).expanduser()
        train, test = split_files(root, options.holdout_every)
        data = load_images(train, cfg.channels, root.resolve().name)
        held_out = tuple(p.name for p in test)
    crop = options.crop or auto_crop(data, options.scale)
    info = SuperResInfo(data.channels, crop, scale=options.scale, data=data, held_out=held_out)
    return SuperResBatchSource(data, cfg.batch_size, cfg.seed, runtime.device, crop, options.scale,
                               runtime.channels_last, runtime.rank, runtime.world_size, augment=options.augment, info=info,
                               min_texture=options.min_texture,
                               degradation=make_degradation(options.degradation, options.degradation_options))


def build(cfg: TrainConfig, options: SRGANOptions, info: DataInfo, runtime: Runtime) -> SRGANGame:
    """The super-resolution game for a resolved config (its adversarial loss is always RaGAN)."""
    if cfg.loss not in (None, *LOSSES):
        raise GanforgeError(f"Loss {cfg.loss!r} is not available for srgan; expected {' or '.join(LOSSES)} (relativistic: "
                            "ESRGAN's average, or each pixel against the same pixel of G's output).")
    return SRGANGame(runtime, info, options, cfg)


register(Family("srgan", "super-resolution, ESRGAN-style: RRDB generator, RaGAN, PSNR then GAN phase (Wang et al. 2018)",
                SRGANOptions, build, default_data="mnist", default_loss="ragan", default_image_size=128,
                default_steps=2000, default_batch_size=16, default_ema_decay=0.999, load_data=load_data,
                reads=frozenset(LOSS_KEYS + OPTIMIZER_KEYS + ("r2_gamma",)),
                tiny={"options": {"scale": 2, "crop": 16, "blocks": 1, "features": 8, "growth": 4, "d_width": 4,
                                                    "psnr_fraction": 0.0}}))
