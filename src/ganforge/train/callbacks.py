"""Hooks the referee calls around training; progress bars, logs, grids and evaluations are callbacks."""
from __future__ import annotations


class Callback:
    """Base hook: override what you need. `trainer` is the running ganforge.train.loop.Trainer."""

    def on_start(self, trainer) -> None:
        """Called once before the first round (also after a resume)."""

    def on_round_end(self, trainer, step: int) -> None:
        """Called after every round; `trainer.step` == step."""

    def on_log(self, trainer, records: list[dict]) -> None:
        """Called every `log_every` steps with the per-step records since the last call (floats)."""

    def on_end(self, trainer) -> None:
        """Called once after the last round and the final checkpoint."""
