"""Phase schedules: pure functions of (step, total_steps) or of images seen, that games follow through `set_phase`.

Progressive growing (Karras et al. 2018): resolution levels count from 0 (4x4) up: level l is 4·2^l pixels.  Training starts with a stable
period at the start level; each later level is first faded in (α rising linearly from 0 to 1, the
new layers blended with the upsampled output of the previous level) and then trained stably.  The
last level keeps whatever training remains.  Because the phase depends only on (step, total_steps,
schedule), a resumed run continues the schedule exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ganforge.errors import GanforgeError
from ganforge.nn.resolution import level_of, resolution_of

__all__ = ["GrowthSchedule", "RecipeSchedule", "cosine_with_warmup", "ema_decay_for_half_life", "growth_phase", "level_of",
           "resolution_of", "schedule_table"]


@dataclass(frozen=True)
class GrowthSchedule:
    """Levels to grow through and the fraction of all steps each fade-in and each stable period takes."""

    start_level: int
    final_level: int
    fade: float = 0.1  #: fraction of total steps for each fade-in
    stable: float = 0.1  #: fraction of total steps for each stable period before the last level

    @property
    def transitions(self) -> int:
        """How many levels are faded in."""
        return self.final_level - self.start_level

    def validate(self) -> None:
        """Refuse schedules that cannot reach the final level within training."""
        if not 0 <= self.start_level <= self.final_level:
            raise GanforgeError(f"Growth from level {self.start_level} to {self.final_level} is invalid"
                                f"; expected a start resolution between 4 and the image size.")
        if self.fade < 0 or self.stable < 0:
            raise GanforgeError(f"Growth fractions fade={self.fade}, stable={self.stable} are invalid; expected non-negative numbers.")
        used = self.transitions * (self.fade + self.stable)
        if self.transitions and used >= 1:
            raise GanforgeError(f"Growth through {self.transitions} levels with fade={self.fade} and stable={self.stable} takes {used:.2f} of training"
                                f"; expected less than 1 (lower fade or stable).")


def _exact(x: float) -> Fraction:
    return Fraction(x).limit_denominator(10 ** 6)


def growth_phase(step: int, total_steps: int, schedule: GrowthSchedule) -> tuple[int, float]:
    """(level, α) for the round about to be played after `step` of `total_steps` rounds.

    Computed in exact rational arithmetic, so period boundaries fall on the steps one expects.
    """
    if schedule.transitions == 0:
        return schedule.final_level, 1.0
    progress = min(max(Fraction(step, max(total_steps, 1)), Fraction(0)), Fraction(1))
    fade, stable = _exact(schedule.fade), _exact(schedule.stable)
    since_start = progress - stable
    if since_start < 0:
        return schedule.start_level, 1.0
    period = fade + stable
    done = int(since_start // period) if period > 0 else schedule.transitions
    if done >= schedule.transitions:
        return schedule.final_level, 1.0
    within = since_start - done * period
    alpha = float(within / fade) if within < fade else 1.0
    return schedule.start_level + done + 1, alpha


def schedule_table(total_steps: int, schedule: GrowthSchedule) -> list[tuple[int, int, str]]:
    """(first step, resolution, "fade" or "stable") for each period of the schedule, for people to read."""
    rows, last = [], None
    for step in range(total_steps):
        level, alpha = growth_phase(step, total_steps, schedule)
        kind = "fade" if alpha < 1 else "stable"
        if (level, kind) != last:
            rows.append((step, resolution_of(level), kind))
            last = (level, kind)
    return rows


def constant_then_linear(step: int, total_steps: int, decay_start: float = 0.5) -> float:
    """Learning-rate factor: 1 until `decay_start` of the run, then linearly down to 0 just after the last step.

    The pix2pix / CycleGAN schedule (Isola et al. 2017; Zhu et al. 2017): constant for the first half of
    the budget, decaying linearly to zero over the second.
    """
    if not 0 <= decay_start <= 1:
        raise GanforgeError(f"Decay start {decay_start!r} is invalid; expected 0 <= value <= 1.")
    start = int(decay_start * total_steps)
    if step < start or total_steps <= start:
        return 1.0
    return max(0.0, (total_steps - step) / (total_steps - start))


def psnr_then_gan(step: int, total_steps: int, psnr_fraction: float) -> str:
    """The phase of a round: "psnr" (L1 only) for the first `psnr_fraction` of the rounds, then "gan" (ESRGAN's two stages).

    The switch is at round floor(psnr_fraction · total_steps) (0-based, exact rational arithmetic), a pure
    function of the step, so a resumed run switches at the same round.
    """
    if not 0 <= psnr_fraction <= 1:
        raise GanforgeError(f"psnr_fraction {psnr_fraction!r} is invalid; expected 0 <= value <= 1.")
    if psnr_fraction == 1:  # never switches, even when a time budget's projected total falls short of the rounds played
        return "psnr"
    return "psnr" if step < int(_exact(psnr_fraction) * total_steps) else "gan"


def cosine_with_warmup(images: float, base: float, final: float, horizon: float, warmup: float = 0.0,
                       warmup_start: float = 0.0) -> float:
    """A value that rises linearly from `warmup_start` to `base` over the first `warmup` images seen, then
    follows a half cosine from `base` down (or up) to `final` at `horizon` images, and stays there.

    R3GAN's schedule of learning rate, Adam β2, γ, EMA half-life and augmentation probability (Huang et
    al. 2024, following Loshchilov & Hutter 2017); a pure function of images seen, so a resumed run
    replays it exactly.
    """
    if not (horizon > 0 and 0 <= warmup < horizon):
        raise GanforgeError(f"Schedule horizon {horizon!r} with warm-up {warmup!r} is invalid; expected 0 <= warm-up < horizon.")
    if images < warmup:
        return warmup_start + (base - warmup_start) * images / warmup
    if images >= horizon:
        return final
    done = (images - warmup) / (horizon - warmup)
    return final + (base - final) * 0.5 * (1.0 + math.cos(math.pi * done))


@dataclass(frozen=True)
class RecipeSchedule:
    """Start and end values of R3GAN's scheduled hyperparameters, over a horizon in images seen.

    The defaults are the paper's CIFAR-10 configuration (Huang et al. 2024, Appendix; official presets):
    lr 2e-4 -> 5e-5, β2 0.9 -> 0.99 (β1 = 0), γ 0.05 -> 0.005, EMA half-life 0 -> 5M images and
    augmentation probability 0 -> 0.55, each over 20M images.
    """

    horizon: float = 2e7  #: images seen at which every value reaches its end
    warmup: float = 0.0  #: images of linear warm-up from 0 (the paper: none)
    lr: tuple[float, float] = (2e-4, 5e-5)
    beta2: tuple[float, float] = (0.9, 0.99)
    gamma: tuple[float, float] = (0.05, 0.005)
    ema_half_life: tuple[float, float] = (0.0, 5e6)  #: in images
    augment_p: tuple[float, float] = (0.0, 0.55)

    def at(self, images: float) -> dict[str, float]:
        """Each scheduled value after `images` images seen (warm-up applies to the learning rate only)."""
        values = {}
        for name in ("lr", "beta2", "gamma", "ema_half_life", "augment_p"):
            start, end = getattr(self, name)
            warmup = self.warmup if name == "lr" else 0.0
            values[name] = cosine_with_warmup(images, start, end, self.horizon, warmup)
        return values


def ema_decay_for_half_life(half_life: float, batch_size: int) -> float:
    """Per-round EMA decay whose weight halves after `half_life` images at `batch_size` images a round (0: no averaging)."""
    return 0.5 ** (batch_size / half_life) if half_life > 0 else 0.0
