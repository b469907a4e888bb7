"""Exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019), with
the half-life ramp of StyleGAN2-ADA (Karras et al. 2020)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of a module whose parameters track an exponential moving average of the live ones.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates so short runs are not
    dominated by the random initial weights.  With `rampup` > 0 the half-life is moreover at most
    `rampup` times the n updates made so far (decay ≤ 0.5 ** (1 / (rampup · n))), so the average
    never reaches further back than a fixed share of training.  Buffers (BatchNorm statistics, growth
    phase) are copied.
    """

    def __init__(self, module: nn.Module, decay: float, rampup: float = 0.0):
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.decay, self.rampup = decay, rampup
        self.updates = 0

    def current_decay(self) -> float:
        """The decay that the update numbered `updates` applies."""
        n = self.updates
        decay = min(self.decay, (1 + n) / (10 + n))
        if self.rampup > 0 and n > 0:
            decay = min(decay, 0.5 ** (1.0 / (self.rampup * n)))
        return decay

    @torch.no_grad()
    def update(self, source: nn.Module, decay: float | None = None) -> None:
        """Move the average one step towards `source`, with `decay` when given (a game's schedule), else the ramped one."""
        self.updates += 1
        decay = self.current_decay() if decay is None else decay
        ema_params = list(self.module.parameters())
        src_params = [p.detach() for p in source.parameters()]
        torch._foreach_lerp_(ema_params, src_params, 1.0 - decay)
        for b_ema, b_src in zip(self.module.buffers(), source.buffers()):
            b_ema.copy_(b_src)

    def state_dict(self) -> dict:
        """Weights and update count for a checkpoint."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict`."""
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
