"""The referee's check of its own numbers at each log flush: a non-finite logged value or weight stops the
run before anything non-finite is saved; a value past a sane bound warns once."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.contract import EVENT, STEP, TIME
from ganforge.errors import GanforgeError

WARNING = "warning"  #: the metrics.jsonl event name of a guard warning: {"event": "warning", "step", "key", "value", "message"}


class TrainingDiverged(GanforgeError):
    """Training produced a non-finite loss or weight; the run was stopped and nothing non-finite was saved."""


class Guard:
    """Checks the logged values and the players' weights of a run; the device-side part costs no host sync.

    `device_flags` computes, on the device, one flag for the logged values and one per module (1: all
    finite); the referee sends them to the host in the same transfer as the logs and hands them to `check`.
    """

    def __init__(self, modules: dict[str, nn.Module], bound: float):
        self.modules, self.bound = modules, bound
        self.warned = False

    @torch.no_grad()
    def device_flags(self, values: Optional[Tensor], device: torch.device) -> Tensor:
        """(1 + number of modules,) float flags: are `values` (the pending logs) and each module's weights all finite."""
        flags = [torch.ones((), dtype=torch.bool, device=device) if values is None or values.numel() == 0
                 else values.isfinite().all().to(device)]
        for module in self.modules.values():
            tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
            flags.append(torch.stack([t.isfinite().all() for t in tensors]).all().to(device) if tensors
                         else torch.ones((), dtype=torch.bool, device=device))
        return torch.stack(flags).float()

    def check(self, step: int, records: list[dict], flags: list[float], kept: str) -> Optional[dict]:
        """Raise TrainingDiverged on a non-finite value or weight; return a warning event the first time a value passes the bound.

        `kept` names what the run keeps (its last checkpoint) for the message.
        """
        for record in records:
            for key, value in _values(record):
                if not math.isfinite(value):
                    raise TrainingDiverged(f"Training stopped at step {record[STEP]} because {key} is {value}; {kept} "
                                           f"(expected finite losses: try lower lr_g/lr_d or another loss).")
        if flags and flags[0] < 1:
            raise TrainingDiverged(f"Training stopped at step {step} because a logged value of another process is not finite; "
                                   f"{kept} (expected finite losses: try lower lr_g/lr_d or another loss).")
        for name, ok in zip(self.modules, flags[1:]):
            if ok < 1:
                raise TrainingDiverged(f"Training stopped at step {step} because the weights of {name} are no longer finite "
                                       f"(nan or inf); {kept} (expected finite weights: try lower lr_g/lr_d).")
        if self.warned:
            return None
        for record in records:
            for key, value in _values(record):
                if abs(value) > self.bound:
                    self.warned = True
                    message = (f"{key} reached {value:.3g} at step {record[STEP]}, past loss_bound={self.bound:g}; "
                               f"training may be diverging (try lower lr_g/lr_d)")
                    return {EVENT: WARNING, STEP: record[STEP], "key": key, "value": value, "message": message}
        return None


def _values(record: dict):
    for key, value in record.items():
        if key not in (STEP, TIME) and isinstance(value, float):
            yield key, value
