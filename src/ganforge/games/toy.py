"""The toy game: the classic two-player game on 1-D and 2-D Gaussian mixtures (`--model toy --data ring8`).

The rules are the adversarial game's (games/adversarial.py) with points (N, d) under the batch key
"points"; the players are PacGAN's small MLPs (models/toy.py). Unlike the image families, the export
holds the discriminator too, so that `ganforge theory` can set D(x) beside the optimal D*(x).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.data.toy import MIXTURES, POINTS, GaussianMixture, PointInfo, PointSource, get_mixture
from ganforge.errors import GanforgeError
from ganforge.games.adversarial import AdversarialGame, check_batch_for_pack, check_remedies
from ganforge.games.base import DataInfo, Runtime
from ganforge.games.registry import ADVERSARIAL_KEYS, Family, register
from ganforge.losses import get_loss
from ganforge.models.toy import ToyDiscriminator, ToyGenerator
from ganforge.nn.configurable import default_of
from ganforge.nn.modes import eval_mode


@dataclass
class ToyOptions:
    """Options of the toy game; the defaults are PacGAN's 2-D players."""

    z_dim: int = default_of(ToyGenerator, "z_dim")  #: latent dimension (N(0, I))
    g_width: int = default_of(ToyGenerator, "width")  #: units per hidden layer of G
    g_depth: int = default_of(ToyGenerator, "depth")  #: hidden layers of G (ReLU + BatchNorm)
    d_width: int = default_of(ToyDiscriminator, "width")  #: maxout units per hidden layer of D
    d_depth: int = default_of(ToyDiscriminator, "depth")  #: hidden maxout layers of D
    pieces: int = default_of(ToyDiscriminator, "pieces")  #: affine pieces per maxout unit
    pack: int = 1  #: PacGAN packing: D judges this many points at once (Lin et al. 2018; 2-4); batch size must divide
    minibatch_std: int = 0  #: minibatch-stddev group size before D's last layer (Karras et al. 2018); 0: off
    r1_gamma: float = 0.0  #: R1 penalty weight γ on real data (0: off)

    def validate(self) -> None:
        """Reject non-positive sizes."""
        sizes = {"z_dim": self.z_dim, "g_width": self.g_width, "g_depth": self.g_depth, "d_width": self.d_width,
                 "d_depth": self.d_depth, "pieces": self.pieces}
        for name, value in sizes.items():
            if value < 1:
                raise GanforgeError(f"Toy option {name}={value} is invalid; expected an integer >= 1.")
        check_remedies(self)


class ToyGame(AdversarialGame):
    """The adversarial game on points; its progress "images" are scatter plots of G's samples."""

    data_key = POINTS

    def __init__(self, runtime: Runtime, info: PointInfo, generator: nn.Module, discriminator: nn.Module,
                 cfg: TrainConfig, r1_gamma: float = 0.0):
        super().__init__(runtime, info, generator, discriminator, get_loss(cfg.loss or "non_saturating"), cfg, r1_gamma)
        self.mixture: GaussianMixture = info.mixture

    def discriminator_step(self, batch) -> dict[str, Tensor]:
        """The adversarial D step, in full precision (bf16's 8-bit mantissa is coarser than the ring's σ = 0.01)."""
        with torch.autocast(self.runtime.device.type, enabled=False):
            return super().discriminator_step(batch)

    def generator_step(self, batch) -> dict[str, Tensor]:
        """The adversarial G step, in full precision."""
        with torch.autocast(self.runtime.device.type, enabled=False):
            return super().generator_step(batch)

    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """2,500 fixed latents (the VEEGAN/PacGAN sample count) whatever `n` is: one scatter plot."""
        return {"z": torch.randn(2500, self.generator.z_dim, generator=generator)}

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """A (1, 3, 256, 256) picture in [-1, 1]: data modes in red, G's samples in black."""
        with eval_mode(generator):
            points = generator(inputs["z"].to(self.runtime.device)).float().cpu()
        return scatter_image(points, self.mixture)

    def export_info(self) -> dict[str, Any]:
        """The mixture (name, means, σ), the loss and the packing, beside the players."""
        return {"channels": 1, "image_size": 0, "num_classes": 0, "class_names": [], "kind": "points",
                "mixture": self.mixture.name, "dim": self.mixture.dim, "means": [list(m) for m in self.mixture.means],
                "sigma": self.mixture.sigma, "loss": self.loss.name,
                "pack": int(getattr(self.players["discriminator"], "pack", 1))}

    def export_players(self, generator: nn.Module) -> dict[str, nn.Module]:
        """The generator and the live discriminator (the theory report reads D(x))."""
        return {"generator": generator, "discriminator": self.players["discriminator"]}


def scatter_image(points: Tensor, mixture: GaussianMixture, size: int = 256) -> Tensor:
    """Points rasterised over the mixture's extent (2-D; 1-D as a histogram) as a (1, 3, S, S) image in [-1, 1]."""
    low, high = mixture.extent()
    image = torch.ones(3, size, size)
    scale = (size - 1) / (high - low)
    if mixture.dim == 1:
        hist = torch.histc(points[:, 0].clamp(low, high), bins=size, min=low, max=high)
        heights = (hist / hist.max().clamp(min=1) * (size - 8)).long()
        rows = torch.arange(size).view(-1, 1)
        bars = rows >= (size - 1 - heights).view(1, -1)
        image[:, bars] = 0.0
        xs = ((mixture.mean_tensor()[:, 0] - low) * scale).round().long().clamp(0, size - 1)
        image[0, :, xs], image[1, :, xs], image[2, :, xs] = 1.0, 0.0, 0.0
    else:
        means = ((mixture.mean_tensor()[:, :2] - low) * scale).round().long().clamp(0, size - 1)
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                x, y = (means[:, 0] + dx).clamp(0, size - 1), (size - 1 - means[:, 1] + dy).clamp(0, size - 1)
                image[0, y, x], image[1, y, x], image[2, y, x] = 1.0, 0.3, 0.3
        xy = ((points[:, :2].double() - low) * scale).round().long()
        inside = ((xy >= 0) & (xy < size)).all(dim=1)
        xy = xy[inside]
        image[:, size - 1 - xy[:, 1], xy[:, 0]] = 0.0
    return (image * 2 - 1).unsqueeze(0)


def load_data(cfg: TrainConfig, options: ToyOptions, runtime: Runtime) -> PointSource:
    """Fresh points from the mixture named by `cfg.data` (ring8, grid25, gauss1d, mix1d, ring8-wide)."""
    mixture = get_mixture(cfg.data or "ring8")
    return PointSource(mixture, cfg.batch_size, cfg.seed, runtime.device, runtime.rank, runtime.world_size)


def build(cfg: TrainConfig, options: ToyOptions, info: DataInfo, runtime: Runtime) -> ToyGame:
    """The toy game for a resolved config: PacGAN's players sized by `options`."""
    if not isinstance(info, PointInfo):
        raise GanforgeError(f"Model 'toy' trains on point data; expected --data one of {', '.join(MIXTURES)}.")
    check_batch_for_pack(cfg, options.pack)
    dim = info.mixture.dim
    generator = ToyGenerator(options.z_dim, dim, options.g_width, options.g_depth)
    discriminator = ToyDiscriminator(dim, options.d_width, options.d_depth, options.pieces, options.pack,
                                     options.minibatch_std)
    return ToyGame(runtime, info, generator, discriminator, cfg, options.r1_gamma)


register(Family("toy", "small MLP GAN on 1-D/2-D Gaussian mixtures (PacGAN's 2-D players)", ToyOptions, build,
                default_data="ring8", default_image_size=32, default_steps=5000, default_batch_size=128,
                default_ema_decay=0.0, load_data=load_data, reads=ADVERSARIAL_KEYS))
