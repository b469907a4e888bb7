"""A callback that writes a run for TensorBoard (`tensorboard --logdir runs`): the per-round scalars
(losses, mean D outputs, penalties), evaluation scores and the fixed-noise sample grids.

Needs the optional extra `ganforge[tensorboard]`; turned on with `--set tensorboard=true`.  Events go to
`<run>/tensorboard/`, so pointing TensorBoard at the parent of many runs compares them.
"""
from __future__ import annotations

from ganforge.contract import EVENT, STEP, TIME, Callback
from ganforge.errors import GanforgeError
from ganforge.runlog import number, read_metrics


class TensorBoard(Callback):
    """Writes scalars every log flush, eval scores when they appear, and sample grids every `every` steps."""

    def __init__(self, every: int = 250):
        self.every = every
        self.writer = None
        self._events_seen = 0

    def on_start(self, trainer) -> None:
        if not trainer.is_main:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanforgeError("tensorboard=true needs the tensorboard package; expected `pip install 'ganforge[tensorboard]'`.") from None
        self.writer = SummaryWriter(log_dir=str(trainer.run_dir / "tensorboard"), purge_step=trainer.step + 1 if trainer.step else None)
        _, events = read_metrics(trainer.run_dir / "metrics.jsonl")
        self._events_seen = len(events)
        if trainer.step == 0:
            self._images(trainer)

    def _images(self, trainer) -> None:
        images = trainer.game.render(trainer.sample_generator, trainer.fixed_inputs).detach().float().cpu()
        from ganforge.report.grid import make_grid

        grid = make_grid(images.clamp(-1, 1))  # (H, W, C) uint8
        self.writer.add_image("samples", grid, trainer.step, dataformats="HWC")

    def on_log(self, trainer, records: list[dict]) -> None:
        if self.writer is None:
            return
        for record in records:
            for key, value in record.items():
                v = number(value)
                if key in (STEP, TIME) or v is None:
                    continue
                self.writer.add_scalar(f"train/{key}", v, record[STEP])
        self._scores(trainer)
        self.writer.flush()

    def _scores(self, trainer) -> None:
        _, events = read_metrics(trainer.run_dir / "metrics.jsonl")
        for event in events[self._events_seen:]:
            if event.get(EVENT) != "eval":
                continue
            for key, value in event.items():
                v = number(value)
                if key not in (EVENT, STEP, TIME) and v is not None:
                    self.writer.add_scalar(f"eval/{key}", v, int(event.get(STEP, trainer.step)))
        self._events_seen = len(events)

    def on_round_end(self, trainer, step: int) -> None:
        if self.writer is not None and step % self.every == 0:
            self._images(trainer)

    def on_end(self, trainer) -> None:
        if self.writer is None:
            return
        if trainer.step % self.every != 0:
            self._images(trainer)
        self._scores(trainer)
        self.writer.close()
        self.writer = None
