"""The round's toolkit: what every game's discriminator and generator steps are made of.

`frozen` holds players still for the other side's step; `LastFakes` carries a generator step's
output to the next discriminator step; `discriminator_loss` builds D's objective from its logits with
every penalty and augmentation as arguments; `generator_loss` is G's adversarial term, reading real
logits too where the loss is relativistic; `run_penalties` adds the run's own penalty settings (`gp_weight`,
`r2_gamma`) to a game's; `in_passes` renders a preview grid a few rows at a time. A new penalty or loss
added here reaches every game.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import D_FAKE, D_REAL, GRADIENT_PENALTY, LOSS_D, R1, R2, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.base import latent_inputs
from ganforge.games.penalties import NO_PENALTIES, Penalties
from ganforge.losses import AdversarialLoss, discriminator_score, gradient_penalty, r1_penalty, r2_penalty
from ganforge.nn.augment import Augmenter
from ganforge.nn.modes import eval_mode
from ganforge.sampling import in_slices, rows_per_pass

Critic = Callable[[Tensor], Tensor]  # images (or points) -> logits


@contextlib.contextmanager
def frozen(*players: nn.Module) -> Iterator[None]:
    """`players` with requires_grad off for the block (a step through a fixed opponent), each flag restored after."""
    params = [p for m in players for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


class LastFakes:
    """What the last generator step made, held for the next discriminator step and saved with the game.

    Translation and super-resolution games let D judge the outputs G just trained on (Zhu et al. 2017's
    schedule) instead of translating the batch again; `take` empties the holder, so a second D step
    in the same round makes its own.
    """

    def __init__(self, runtime: Runtime, names: tuple[str, ...]):
        self.runtime, self.names = runtime, names
        self.held: Optional[tuple[Tensor, ...]] = None

    def keep(self, *images: Tensor) -> None:
        """Hold `images` (detached), one per name."""
        self.held = tuple(x.detach() for x in images)

    def take(self) -> Optional[tuple[Tensor, ...]]:
        """The held images, or None when there are none; the holder is empty afterwards."""
        held, self.held = self.held, None
        return held

    def state_dict(self) -> Optional[dict[str, Tensor]]:
        """The held images by name, or None."""
        return None if self.held is None else dict(zip(self.names, self.held))

    def load_state_dict(self, state: Optional[dict[str, Tensor]]) -> None:
        """Hold what `state_dict` saved, placed on this run's device and memory format; a state without one of
        the names (saved when the game held fewer) holds nothing, so the next D step makes its own."""
        if state is None or any(name not in state for name in self.names):
            self.held = None
            return
        self.held = tuple(self.runtime.place_images(state[name]) for name in self.names)


@dataclass
class CriticTerms:
    """D's objective for one step: `loss` to minimise, its adversarial part, the logits and what to log."""

    loss: Tensor
    adversarial: Tensor
    real_logits: Tensor
    fake_logits: Tensor
    logs: dict[str, Tensor]


def discriminator_loss(critic: Critic, real: Tensor, fake: Tensor, loss: AdversarialLoss,
                       penalties: Penalties = NO_PENALTIES, *, d_step: int = 0, augment: Optional[Augmenter] = None,
                       joint: bool = False, scale: float = 1.0) -> CriticTerms:
    """D's loss on `real` vs `fake` (no gradient reaches G through `fake`), penalties and augmentation included.

    `augment` transforms every image D sees, real and fake drawn independently, and is fed the real logits
    (ADA); R1 and R2 differentiate through it to the un-augmented images, WGAN-GP interpolates the images D
    saw. `joint` scores real and fake in one pass (for players whose norms keep samples independent);
    `scale` weighs the adversarial term (pix2pix halves it). Logs `loss_d` (the scaled adversarial term),
    `d_real`, `d_fake`, the augmentation's values, and each penalty evaluated, unweighted.
    """
    due = penalties.lazy_due(d_step)
    r1_on, r2_on = penalties.r1_gamma > 0 and due, penalties.r2_gamma > 0 and due
    fake = fake.detach()
    if r1_on:
        real = real.detach().requires_grad_(True)
    if r2_on:
        fake = fake.requires_grad_(True)
    active = augment is not None and augment.active
    seen_real, seen_fake = (augment(real), augment(fake)) if active else (real, fake)
    if joint:
        logits = critic(torch.cat([seen_real, seen_fake]))
        real_logits, fake_logits = logits[:seen_real.shape[0]], logits[seen_real.shape[0]:]
    else:
        real_logits, fake_logits = critic(seen_real), critic(seen_fake)
    adversarial = loss.discriminator(real_logits, fake_logits)
    if scale != 1.0:
        adversarial = scale * adversarial
    logs = {LOSS_D: adversarial.detach(), D_REAL: discriminator_score(real_logits.detach(), loss),
            D_FAKE: discriminator_score(fake_logits.detach(), loss)}
    total = adversarial
    if augment is not None:
        augment.observe(real_logits)
        logs.update(augment.logs(real_logits.device))
    if penalties.gp_weight > 0:
        gp = gradient_penalty(critic, seen_real.detach(), seen_fake)
        total = total + penalties.gp_weight * gp
        logs[GRADIENT_PENALTY] = gp.detach()
    if r1_on:
        r1 = r1_penalty(real_logits, real)
        total = total + 0.5 * penalties.r1_gamma * penalties.interval * r1
        logs[R1] = r1.detach()
    if r2_on:
        r2 = r2_penalty(fake_logits, fake)
        total = total + 0.5 * penalties.r2_gamma * penalties.interval * r2
        logs[R2] = r2.detach()
    return CriticTerms(total, adversarial, real_logits, fake_logits, logs)


def generator_loss(critic: Critic, fake: Tensor, loss: AdversarialLoss, real: Optional[Tensor] = None,
                   augment: Optional[Augmenter] = None) -> Tensor:
    """G's adversarial loss on `fake` under `critic` (freeze it with `frozen`); a relativistic loss also
    scores `real` (without gradient) and pairs the two."""
    active = augment is not None and augment.active
    fake_logits = critic(augment(fake) if active else fake)
    if not loss.relativistic:
        return loss.generator(fake_logits)
    if real is None:
        raise GanforgeError(f"Loss {loss.name!r} compares real and generated images; expected the real batch in the generator step.")
    with torch.no_grad():
        real_logits = critic(augment(real) if active else real)
    return loss.generator(real_logits, fake_logits)


def run_penalties(cfg: TrainConfig, loss: AdversarialLoss, r1_gamma: float = 0.0, interval: int = 1) -> Penalties:
    """A game's penalties with the run's own: WGAN-GP's `gp_weight` when the loss needs it and R2's `r2_gamma`,
    beside the game's R1 γ and lazy interval."""
    return Penalties(r1_gamma=r1_gamma, r2_gamma=cfg.r2_gamma, gp_weight=cfg.gp_weight if loss.needs_gradient_penalty else 0.0,
                     interval=interval)


class NoiseRendering:
    """Noise, labels, `sample_inputs` and `render` of a game whose generator maps noise (and labels, when
    `conditional`) to images."""

    def _labels(self, batch: dict[str, Tensor]) -> Optional[Tensor]:
        return batch["labels"] if self.conditional else None

    def _noise(self, n: int) -> Tensor:
        return torch.randn(n, self.generator.z_dim, device=self.runtime.device)

    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed noise (and, for conditional players, labels cycling through the classes)."""
        return latent_inputs(n, self.generator.z_dim, generator, self.generator.num_classes if self.conditional else 0)

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """G's images for the fixed inputs, in eval mode (`in_passes`)."""
        device = self.runtime.device

        def make(rows: dict[str, Tensor]) -> Tensor:
            labels = rows.get("labels")
            return generator(rows["z"].to(device), None if labels is None else labels.to(device)).float()

        with eval_mode(generator):
            return in_passes(make, inputs, self.info.image_size)


def in_passes(make: Callable[[dict[str, Tensor]], Tensor], inputs: dict[str, Tensor], image_size: int) -> Tensor:
    """`make(inputs)` run on slices of the inputs' rows, `sampling.rows_per_pass` images each, joined: a preview
    grid at 256 px holds a quarter of one pass's activations (the rows are independent in eval mode)."""
    return in_slices(make, inputs, rows_per_pass(image_size, next(iter(inputs.values())).shape[0]))
