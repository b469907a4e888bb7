"""What every layer may share: where players run, what the data is, the callback hooks, the log keys.

Players, games, the referee, judges and tools all import this module; it imports nothing of theirs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import torch
from torch import nn

Batch = dict  # str -> Tensor: "images" (float, [-1, 1]), optional "labels"; translation games use "a", "b"


@dataclass(frozen=True)
class Runtime:
    """Where and how the players run: device, autocast dtype, memory format, process group size."""

    device: torch.device
    autocast_dtype: Optional[torch.dtype] = None  # None: full precision
    channels_last: bool = False
    world_size: int = 1
    rank: int = 0
    #: averages gradients across processes after each backward pass; set by the referee under DDP
    gradient_sync: Optional[Callable[[Sequence[torch.Tensor]], None]] = field(default=None, compare=False)

    def place(self, module: nn.Module) -> nn.Module:
        """Move a player to the device (and NHWC layout where configured)."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def place_images(self, images: torch.Tensor) -> torch.Tensor:
        """Move a batch of images to the device (and NHWC layout where configured)."""
        images = images.to(self.device)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def sync_gradients(self, params: Sequence[torch.Tensor]) -> None:
        """Average `params`' gradients across processes (nothing when run alone)."""
        if self.gradient_sync is not None and self.world_size > 1:
            self.gradient_sync(list(params))


@dataclass(frozen=True)
class DataInfo:
    """What the game must know about its data to size its players."""

    channels: int
    image_size: int
    num_classes: int = 0  # 0: unlabelled
    class_names: tuple = ()


class Batches(Protocol):
    """What the referee draws batches from: a family's `load_data(cfg, options, runtime)` returns one.

    `info` describes the data (set when the source is made); the order of batches is a function of the
    seed and the state, so a resumed run draws what it would have.
    """

    info: DataInfo

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one pass over the data (per process)."""

    def next(self) -> Batch:
        """The next batch."""

    def state_dict(self) -> dict:
        """Where the source stands (plain values), for a checkpoint."""

    def load_state_dict(self, state: dict) -> None:
        """Continue from what `state_dict` saved."""


class Callback:
    """A hook the referee calls around training; override what you need.

    `trainer` is the running referee: it offers `step`, `total_steps`, `cfg`, `run_dir`, `is_main`,
    `game`, `fixed_inputs`, `sample_generator`, `info`, `log_event(record)` and `save_checkpoint(tag)`.
    """

    def on_start(self, trainer) -> None:
        """Called once before the first round (also after a resume)."""

    def on_round_end(self, trainer, step: int) -> None:
        """Called after every round; `trainer.step` == step."""

    def on_log(self, trainer, records: list[dict]) -> None:
        """Called every `log_every` steps with the per-step records since the last call (floats)."""

    def on_end(self, trainer) -> None:
        """Called once after the last round and the final checkpoint."""


class PeriodicCallback(Callback):
    """A callback that does `save(trainer)` at step 0, every `every` steps and once more at the end."""

    def __init__(self, every: int):
        self.every = max(1, int(every))

    def save(self, trainer) -> None:
        """The periodic work (a grid, a snapshot...)."""
        raise NotImplementedError

    def on_start(self, trainer) -> None:
        if trainer.step == 0:
            self.save(trainer)

    def on_round_end(self, trainer, step: int) -> None:
        if step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer) -> None:
        if trainer.step % self.every != 0:
            self.save(trainer)


# --- the log-key contract -------------------------------------------------------------------------
# Every game names its per-round scalars with these keys where they apply; a game may add its own.
STEP = "step"  #: the round just played (1-based), written by the referee
TIME = "time"  #: training seconds so far, on the last record of each flush
LOSS_D = "loss_d"  #: the discriminator's adversarial loss alone (penalties are logged on their own keys)
LOSS_G = "loss_g"  #: the generator's whole objective (adversarial plus any reconstruction terms)
D_REAL = "d_real"  #: mean D(x) on real images: a probability for minimax/non_saturating, else a raw score
D_FAKE = "d_fake"  #: mean D(G(z)) on generated images, likewise
R1 = "r1"  #: the R1 penalty E‖∇D(x)‖² (unweighted), on the D steps that evaluate it
R2 = "r2"  #: the R2 penalty E‖∇D(G(z))‖² on generated images (unweighted), on the D steps that evaluate it
GRADIENT_PENALTY = "gradient_penalty"  #: WGAN-GP's E(‖∇D(x̂)‖ − 1)² (unweighted)
EVENT = "event"  #: marks a non-round record in metrics.jsonl, e.g. {"event": "eval", "step": ..., "fd": ...}
ROUND_KEYS = (LOSS_D, LOSS_G, D_REAL, D_FAKE)  #: what every adversarial game logs each round
