"""FastGAN (Liu, Zhu, Song & Elgammal, ICLR 2021): a GAN for a few hundred images, on the round's toolkit.

D plays the hinge game on DiffAugmented images (colour, translation, cutout; Zhao et al. 2020) and, on
real images only, is also an auto-encoder: its decoders rebuild the whole (augmented) real image from its
8×8 features and one random quadrant from its 16×16 features, scored by L1 (plus a VGG-19 perceptual L1
where the user gives VGG weights; the paper uses LPIPS). The reconstruction term trains D alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganforge.config import AUGMENT_KEYS, LOSS_KEYS, OPTIMIZER_KEYS, TrainConfig, load_yaml
from ganforge.contract import LOSS_G
from ganforge.data.folder import typical_size
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime, latent_inputs
from ganforge.games.registry import Family, register
from ganforge.games.toolkit import discriminator_loss, frozen, generator_loss, in_passes
from ganforge.kinds import declare
from ganforge.losses import get_loss
from ganforge.models.fastgan import PARTS, SIZES, FastGANDiscriminator, FastGANGenerator, reconstruction_targets
from ganforge.nn.augment import Augmenter, augmenter_from
from ganforge.nn.configurable import default_of
from ganforge.nn.modes import eval_mode

RECON = "recon"  #: log key: D's reconstruction loss on real images (unweighted)


@dataclass
class FastGANOptions:
    """Options of FastGAN (the paper's: z_dim 256, width 64, batch 8; on a CPU see presets/fastgan-cpu.yaml)."""

    z_dim: int = default_of(FastGANGenerator, "z_dim")  #: noise dimension
    width: int = default_of(FastGANGenerator, "width")  #: channel scale of G (the paper's ngf); channels per resolution follow its table
    d_width: int = 0  #: channel scale of D (the paper's ndf); 0: the same as width
    reconstruction_weight: float = 1.0  #: weight of D's reconstruction term on real images
    diffaugment: bool = True  #: DiffAugment with diffaugment_policy when augment is none; another augment setting replaces it
    vgg19_weights: str = ""  #: torchvision vgg19 state-dict file adding a VGG-19 perceptual L1 to the reconstruction; empty: L1 only

    def validate(self) -> None:
        """Reject non-positive sizes and a negative weight."""
        if self.z_dim < 1 or self.width < 1 or self.d_width < 0:
            raise GanforgeError(f"FastGAN options z_dim={self.z_dim}, width={self.width}, d_width={self.d_width} are invalid; "
                                "expected positive integers (d_width 0: same as width).")
        if not self.reconstruction_weight >= 0:
            raise GanforgeError(f"Option reconstruction_weight={self.reconstruction_weight!r} is invalid; expected a number >= 0.")


class FastGANGame(Game):
    """Hinge game with DiffAugment; D also reconstructs real images (whole and a random quadrant) from its features."""

    def __init__(self, runtime: Runtime, info: DataInfo, options: FastGANOptions, cfg: TrainConfig):
        super().__init__(runtime, info)
        self.seat_pair(FastGANGenerator(options.z_dim, info.channels, info.image_size, options.width),
                       FastGANDiscriminator(info.channels, info.image_size, options.d_width or options.width), cfg)
        self.loss = get_loss(cfg.loss)
        self.reconstruction_weight = options.reconstruction_weight
        if cfg.augment == "none" and options.diffaugment:
            self.augmenter = Augmenter("diffaugment", policy=cfg.diffaugment_policy)
        else:
            self.augmenter = augmenter_from(cfg)
        self.vgg: Optional[nn.Module] = None
        if options.vgg19_weights:
            from ganforge.models.vgg19 import VGG19Features

            self.vgg = runtime.place(VGG19Features.from_file(options.vgg19_weights))

    def _noise(self, n: int) -> Tensor:
        return torch.randn(n, self.generator.z_dim, device=self.runtime.device)

    def reconstruction_error(self, rebuilt: Tensor, target: Tensor) -> Tensor:
        """Mean L1 distance, plus the mean L1 distance of VGG-19 features when weights were given."""
        error = (rebuilt.float() - target.float()).abs().mean()
        if self.vgg is not None:
            error = error + (self.vgg(rebuilt).float() - self.vgg(target).float()).abs().mean()
        return error

    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One D update: hinge on augmented real vs G(z), plus the reconstruction of the augmented reals."""
        G, D = self.players["generator"], self.players["discriminator"]
        real = batch["images"]
        with torch.no_grad():
            fake = G(self._noise(real.shape[0]))
        seen_real, seen_fake = self.augmenter(real), self.augmenter(fake)
        part = int(torch.randint(PARTS, ()))  # the global RNG: a resumed run picks the same quadrants
        with parametrize.cached():  # D's spectrally normed weights computed once for its two passes, not once a pass
            real_logits, whole, quarter = D.judge_and_reconstruct(seen_real, part)
            # the toolkit scores the real batch with the logits of the pass that also reconstructed it
            terms = discriminator_loss(lambda x: real_logits if x is seen_real else D(x), seen_real, seen_fake, self.loss)
        self.augmenter.observe(real_logits)
        target_whole, target_quarter = reconstruction_targets(seen_real.detach(), part, D.reconstruction_size)
        recon = self.reconstruction_error(whole, target_whole) + self.reconstruction_error(quarter, target_quarter)
        self.update("discriminator", terms.loss + self.reconstruction_weight * recon)
        return {**terms.logs, **self.augmenter.logs(real.device), RECON: recon.detach()}

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One G update through a frozen D (its decoders play no part)."""
        G, D = self.players["generator"], self.players["discriminator"]
        real = batch["images"]
        with frozen(D):
            loss = generator_loss(D, G(self._noise(real.shape[0])), self.loss, real, self.augmenter)
            self.update("generator", loss)
        return {LOSS_G: loss.detach()}

    def extra_state(self) -> dict:
        """The augmentation controller (ADA's p when augment=ada replaces DiffAugment)."""
        return {"augment": self.augmenter.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        """Restore the augmentation controller."""
        self.augmenter.load_state_dict(state.get("augment", {}))

    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed noise."""
        return latent_inputs(n, self.generator.z_dim, generator)

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """G's images for the fixed noise, in eval mode."""
        with eval_mode(generator):
            return in_passes(lambda rows: generator(rows["z"].to(self.runtime.device)).float(), inputs, self.info.image_size)

    def export_info(self) -> dict[str, Any]:
        """Base facts plus kind "noise": a generator of images from z."""
        return {**super().export_info(), **declare("noise")}


def build_fastgan(cfg: TrainConfig, options: FastGANOptions, info: DataInfo, runtime: Runtime) -> FastGANGame:
    """The FastGAN game for the data's channels and image size."""
    return FastGANGame(runtime, info, options, cfg)


CPU_PRESET = Path(__file__).resolve().parent.parent / "presets" / "fastgan-cpu.yaml"  #: batch, learning rates, widths on a CPU
PRESET_SETTINGS = {"batch_size": "batch", "lr_g": "G's learning rate", "lr_d": "D's learning rate"}  #: run settings the CPU preset fills, as said
CPU_SIZE_CAP = 128  #: largest image size picked from the data when training on a CPU
CPU_MINUTES = 30.0  #: budget picked on a CPU when none is given
DEFAULT_STEPS = 20_000  #: budget picked on a GPU when none is given
FAMILY_IMAGE_SIZE = 64  #: image size where the data says nothing (MNIST, prepared sets)


def defaults_from_data(cfg: TrainConfig) -> tuple[dict, str]:
    """Where the user gave none: image size from an image folder (its median shorter side rounded down to a power of
    two in 64..1024, at most 128 px on a CPU), a budget (30 minutes on a CPU), and on a CPU the batch, learning rates
    and widths of presets/fastgan-cpu.yaml; with a sentence saying what was picked."""
    on_cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
    values: dict = {}
    said = []
    if on_cpu:
        preset = load_yaml(CPU_PRESET)
        missing = {k: v for k, v in preset["options"].items() if k not in cfg.options}
        if missing:
            values["options"] = {**cfg.options, **missing}
            said.append(", ".join(f"{k} {v}" for k, v in missing.items()))
        for key, name in PRESET_SETTINGS.items():
            if getattr(cfg, key) is None:
                values[key] = preset[key]
                said.append(f"{name} {preset[key]:g}")
    if cfg.image_size is None:
        typical = typical_size(cfg.data) if cfg.data else None
        size = FAMILY_IMAGE_SIZE if typical is None else max(s for s in SIZES if s <= max(typical, SIZES[0]))
        if on_cpu:
            size = min(size, CPU_SIZE_CAP)
        values["image_size"] = size
        where = f"the folder's median shorter side is {typical} px" if typical is not None else "the data is not an image folder"
        said.append(f"image size {size} px ({where}{'; at most ' + str(CPU_SIZE_CAP) + ' px on a CPU' if on_cpu else ''})")
    if cfg.steps is None and cfg.epochs is None and cfg.minutes is None:
        if on_cpu:
            values["minutes"] = CPU_MINUTES
            said.append(f"a budget of {CPU_MINUTES:g} minutes (on a CPU)")
        else:
            values["steps"] = DEFAULT_STEPS
            said.append(f"a budget of {DEFAULT_STEPS} rounds")
    return values, ("fastgan picked " + "; ".join(said) + " (flags and --option override them)." if said else "")


register(Family("fastgan", "FastGAN for a few hundred images (Liu et al. 2021)", FastGANOptions, build_fastgan,
                default_loss="hinge", default_image_size=FAMILY_IMAGE_SIZE, default_steps=DEFAULT_STEPS,
                default_batch_size=8, defaults_from_data=defaults_from_data,
                reads=frozenset(LOSS_KEYS + OPTIMIZER_KEYS + ("n_critic",) + AUGMENT_KEYS),  # no penalty: gp_weight unread
                tiny={"image_size": 64, "options": {"width": 4, "z_dim": 8}}))
