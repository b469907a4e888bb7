"""Standard callbacks: a live progress bar, fixed-noise sample grids, and end-of-run artifacts."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

from ganforge.contract import Callback, PeriodicCallback

_SHOWN = ("loss_d", "loss_g", "d_real", "d_fake", "recon", "kl")


class ProgressBar(Callback):
    """A tqdm bar over the planned steps showing the latest losses and mean D outputs, and the referee's warnings."""

    def on_start(self, trainer) -> None:
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, disable=not trainer.is_main,
                        desc=trainer.cfg.name, dynamic_ncols=True, file=sys.stderr,
                        mininterval=0.5 if sys.stderr.isatty() else 10.0)
        self.warned = len(getattr(trainer, "warnings", ()))

    def on_log(self, trainer, records: list[dict]) -> None:
        last = records[-1]
        self.bar.total = max(trainer.total_steps, trainer.step)
        self.bar.set_postfix({k: f"{last[k]:.3f}" for k in _SHOWN if k in last}, refresh=False)
        self.bar.update(last["step"] - self.bar.n)
        for warning in getattr(trainer, "warnings", [])[self.warned:]:
            if trainer.is_main:
                self.bar.write(f"warning: {warning['message']}", file=sys.stderr)
            self.warned += 1

    def on_end(self, trainer) -> None:
        self.bar.close()

    def on_stop(self, trainer) -> None:
        """Close the bar when training stops early (an error or an interrupt), so the message starts a new line."""
        self.bar.close()


class SampleGrids(PeriodicCallback):
    """Saves the sample generator's images for the fixed inputs every `every` steps and at the end."""

    def save(self, trainer) -> None:
        """Write samples/step_XXXXXXXX.png."""
        if not trainer.is_main:
            return
        from ganforge.report import save_grid

        images = trainer.game.render(trainer.sample_generator, trainer.fixed_inputs)
        save_grid(images.cpu(), trainer.run_dir / "samples" / f"step_{trainer.step:08d}.png")


class RunArtifacts(Callback):
    """At the end: loss and D-output curves, a GIF of the sample grids, the HTML report."""

    def on_end(self, trainer) -> None:
        if trainer.is_main:
            from ganforge.report import build_run_report

            build_run_report(trainer.run_dir)
