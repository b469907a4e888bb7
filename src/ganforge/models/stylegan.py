"""StyleGAN players (Karras et al. 2019, 2020): G = synthesis ∘ mapping, and the matching discriminator.

`G.mapping(z, c)` gives per-layer styles w, `G.synthesis(ws)` draws them; both are usable alone
(style mixing, interpolation in w, truncation).  The generator stores the growth phase it was last
trained at in a `phase` buffer; called without an explicit level it renders at that phase and
upsamples (nearest) to the full image size, so an export taken mid-growth shows what training had
reached, and an export after growth finished is the full-resolution network.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.models.stylegan_discriminator import StyleGANDiscriminator
from ganforge.models.stylegan_mapping import MappingNetwork
from ganforge.models.stylegan_synthesis import MODULATIONS, SynthesisNetwork
from ganforge.nn import Configurable
from ganforge.nn.resolution import level_of

__all__ = ["StyleGANGenerator", "StyleGANDiscriminator", "style_groups", "mix_styles"]


def check_image_size(image_size: int) -> None:
    """Refuse sizes StyleGAN players cannot be built for."""
    if image_size not in (8, 16, 32, 64, 128, 256, 512, 1024):
        raise GanforgeError(f"Image size {image_size} is not supported by StyleGAN; expected a power of two from 8 to 1024 (32 and 64 are usual).")


class StyleGANGenerator(Configurable):
    """G(z, c) = synthesis(mapping(z, c)): a mapping MLP to w, then a styled synthesis network from a learned constant."""

    def __init__(self, z_dim: int = 128, w_dim: int = 128, channels: int = 1, image_size: int = 32,
                 num_classes: int = 0, mapping_layers: int = 8, mapping_lr_mul: float = 0.01,
                 channel_base: int = 512, channel_max: int = 64, modulation: str = "demod",
                 noise: bool = True, w_avg_beta: float = 0.995, tanh_output: bool = True):
        super().__init__()
        check_image_size(image_size)
        if modulation not in MODULATIONS:
            raise GanforgeError(f"Modulation {modulation!r} is unknown; expected one of {', '.join(MODULATIONS)}.")
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.image_size, self.channels = image_size, channels
        self.synthesis = SynthesisNetwork(w_dim, channels, image_size, channel_base, channel_max, modulation, noise,
                                          tanh_output)
        self.num_ws = self.synthesis.num_ws
        self.final_level = self.synthesis.final_level
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, num_classes, mapping_layers, mapping_lr_mul, w_avg_beta)
        self.register_buffer("phase", torch.tensor([float(self.final_level), 1.0]))

    @property
    def w_avg(self) -> Tensor:
        """The tracked mean of w (the centre of the truncation trick)."""
        return self.mapping.w_avg

    def set_phase(self, level: int, alpha: float) -> None:
        """Record the growth phase that a call without an explicit level renders at."""
        self.phase[0].fill_(float(level))
        self.phase[1].fill_(float(alpha))

    def current_phase(self) -> tuple[int, float]:
        """The recorded (level, α)."""
        level, alpha = self.phase.tolist()
        return int(level), float(alpha)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None, truncation: float = 1.0,
                level: Optional[int] = None, alpha: Optional[float] = None, noise_mode: Optional[str] = None,
                update_w_avg: bool = False) -> Tensor:
        """Images from noise z (and labels), truncated by ψ = `truncation` around w_avg.

        With `level` given: images at that level's resolution, faded in by `alpha` (default 1).
        Without: at the recorded phase, upsampled to `image_size`.  Noise defaults to random in
        training mode and to the stored constant maps in eval mode (so sampling is reproducible);
        eval-mode images are clamped to [-1, 1].
        """
        ws = self.mapping(z, labels, truncation=truncation, update_w_avg=update_w_avg)
        return self.synthesize(ws, level, alpha, noise_mode)

    def synthesize(self, ws: Tensor, level: Optional[int] = None, alpha: Optional[float] = None,
                   noise_mode: Optional[str] = None) -> Tensor:
        """Images from per-layer styles, with the same phase, noise and range rules as `forward`."""
        upsample = level is None
        if level is None:
            level, recorded_alpha = self.current_phase()
            alpha = recorded_alpha if alpha is None else alpha
        alpha = 1.0 if alpha is None else alpha
        noise_mode = noise_mode or ("random" if self.training else "const")
        images = self.synthesis(ws, level, alpha, noise_mode)
        if upsample and images.shape[-1] != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="nearest")
        return images if self.training else images.clamp(-1, 1)


def style_groups(num_levels: int) -> dict[str, list[int]]:
    """Levels whose styles count as coarse, middle and fine (Karras et al. 2019, §3.1).

    The paper's split for 1024 px is 4–8 px coarse, 16–32 px middle, 64 px and up fine; smaller
    networks move the split down so that each group is non-empty where there are three levels or more.
    """
    coarse_end = min(2, max(1, num_levels - 2))
    middle_end = min(4, max(coarse_end + 1, num_levels - 1))
    levels = list(range(num_levels))
    return {"coarse": levels[:coarse_end], "middle": levels[coarse_end:middle_end], "fine": levels[middle_end:]}


def mix_styles(ws: Tensor, other: Tensor, levels: list[int]) -> Tensor:
    """`ws` with the rows of the given synthesis levels taken from `other` (style mixing)."""
    rows = [i for level in levels for i in (2 * level, 2 * level + 1)]
    mixed = ws.clone()
    mixed[:, rows] = other[:, rows]
    return mixed


def level_count(generator: StyleGANGenerator) -> int:
    """Number of synthesis levels of a generator (4 px up to its image size)."""
    return level_of(generator.image_size) + 1
