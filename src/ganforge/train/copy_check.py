"""The end-of-training copy check: are the samples copies of training images? Printed, with a grid of the closest pairs."""
from __future__ import annotations

from ganforge.atomic import write_json_atomic
from ganforge.contract import Callback
from ganforge.errors import GanforgeError

GRID_PAIRS = 8  #: closest sample/training pairs shown in copy_check.png


class CopyCheckAtEnd(Callback):
    """At the end of a run of an image generator, checks `n` samples of the sampled generator against the training
    images (ganforge.metrics.copy_check), prints the figures and writes copy_check.json and copy_check.png (the
    closest sample | training image pairs) to the run folder."""

    def __init__(self, n: int):
        self.n = int(n)

    def on_end(self, trainer) -> None:
        """Run the check on the main process when the export declares a noise-to-image kind."""
        from ganforge.metrics.copy_check import applies_to, copy_check_rows, generator_copy_check
        from ganforge.sampling import rows_per_pass

        if self.n < 1 or not trainer.is_main or not applies_to(trainer.game.export_info()):
            return
        try:
            result = generator_copy_check(trainer.sample_generator, trainer.cfg.data, self.n, seed=trainer.cfg.seed,
                                          pass_size=rows_per_pass(trainer.info.image_size, self.n))
        except GanforgeError as exc:  # the run is saved; a check that cannot run says why and leaves it so
            print(f"copy check: not run ({exc})")
            return
        from ganforge.report import save_grid

        summary = result.check.summary()
        order = result.check.distance.argsort()[:GRID_PAIRS]
        closest = [{"sample": int(i), "training_image": int(result.check.index[i]), "distance": round(float(result.check.distance[i]), 4)}
                   for i in order]
        write_json_atomic(trainer.run_dir / "copy_check.json", {**summary, "closest": closest, "step": trainer.step})
        grid = save_grid(result.closest_pairs(GRID_PAIRS), trainer.run_dir / "copy_check.png", nrow=8)
        width = max(len(label) for label, _ in copy_check_rows(summary))
        print("\n".join(f"{label:<{width}}  {value}" for label, value in copy_check_rows(summary)))
        print(f"closest sample | training image pairs: {grid}")
