"""Evaluate the generator every N steps during training, log the scores, keep the best checkpoint."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from ganforge.contract import EVENT, Callback
from ganforge.errors import GanforgeError
from ganforge.kinds import kind_of
from ganforge.metrics.evaluate import DIRECTION, parse_metrics, result_key
from ganforge.metrics.superres import SharpestWithinPSNR, held_out_images
from ganforge.runlog import read_metrics


class EvalCallback(Callback):
    """Every `every` steps scores the sampled generator (EMA copy if any) and logs an "eval" event.

    An image generator: `n` samples, `metrics`; when the first metric improves (lower fd/kid, higher
    is/precision/recall), the whole training state is saved as the "best" checkpoint. A super-resolution
    model (the kind its export declares): Y-PSNR, Y-SSIM and HF ratio beside bicubic on up to `n` held-out
    images of its data (or every image of the folder `superres_data`), and "best" is `SharpestWithinPSNR`'s
    pick with `max_psnr_cost`. Earlier evaluations are re-read from metrics.jsonl on resume, so a resumed
    run does not overwrite a better checkpoint.
    """

    def __init__(self, every: int, n: int = 2000, metrics: Sequence[str] = ("fd",), seed: int = 0,
                 extractor: str = "auto", inception_weights: Optional[str] = None, max_psnr_cost: float = 1.0,
                 superres_data: Optional[str] = None):
        self.every, self.n, self.seed = int(every), int(n), seed
        self.metrics = parse_metrics(metrics)
        self.extractor, self.inception_weights = extractor, inception_weights
        self.key = result_key(self.metrics[0])
        self.lower_is_better = DIRECTION[self.key]
        self.best: Optional[float] = None
        self.sharpest = SharpestWithinPSNR(max_psnr_cost)
        self.superres_data = superres_data
        self.superres_files = validation_files(superres_data) if superres_data else None

    def on_start(self, trainer) -> None:
        """Check before the first round that there is something to evaluate on; recover earlier evaluations' pick."""
        info = trainer.game.export_info()
        superres = kind_of(info).name == "superres"
        if self.superres_data and not superres:
            raise GanforgeError(f"Config value eval_data={self.superres_data!r} is for super-resolution runs; "
                                f"expected it empty for model {trainer.cfg.model!r}.")
        if superres and self.superres_files is None:
            held_out_images({**info, "data": trainer.cfg.data})  # raises when there are none
        _, events = read_metrics(trainer.run_dir / "metrics.jsonl")
        for record in events:
            if record.get(EVENT) != "eval" or record["step"] > trainer.step:
                continue
            if isinstance(record.get("psnr_y"), (int, float)) and isinstance(record.get("hf_ratio"), (int, float)):
                self.sharpest.consider(float(record["psnr_y"]), float(record["hf_ratio"]))
            elif isinstance(record.get(self.key), (int, float)) and self._better(float(record[self.key])):
                self.best = float(record[self.key])

    def _better(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.lower_is_better else value > self.best

    def on_round_end(self, trainer, step: int) -> None:
        """Evaluate on every `every`-th step (main process only)."""
        if self.every <= 0 or step % self.every != 0 or not trainer.is_main:
            return
        export_info = trainer.game.export_info()
        if kind_of(export_info).name == "superres":
            self._evaluate_superres(trainer, step, {**export_info, "data": trainer.cfg.data})
            return
        from ganforge.metrics.evaluate import evaluate

        info = trainer.info
        data_info = {"channels": info.channels, "image_size": info.image_size, "num_classes": info.num_classes,
                     "data": trainer.cfg.data}
        scores = evaluate(trainer.sample_generator, data_info, n=self.n, metrics=self.metrics, seed=self.seed,
                          extractor=self.extractor, inception_weights=self.inception_weights)
        record = {"event": "eval", "step": step, **{k: v for k, v in scores.items() if k != "extractor"},
                  "extractor": scores["extractor"]}
        trainer.log_event(record)
        if self._better(float(scores[self.key])):
            self.best = float(scores[self.key])
            trainer.save_checkpoint("best")

    def _evaluate_superres(self, trainer, step: int, info: dict[str, Any]) -> None:
        """Score the super-resolution generator beside bicubic; keep it as "best" when `SharpestWithinPSNR` picks it."""
        from ganforge.metrics.superres import evaluate_superres

        generator = trainer.sample_generator
        was_training = generator.training
        try:
            scores = evaluate_superres(generator, info, n=self.n, files=self.superres_files,
                                       device=next(generator.parameters()).device)
        finally:
            generator.train(was_training)
        model = scores["model"]
        record = {"event": "eval", "step": step, **model, **{f"bicubic_{k}": v for k, v in scores["bicubic"].items()},
                  "n": scores["n"], "data": scores["data"]}
        trainer.log_event(record)
        if self.sharpest.consider(model["psnr_y"], model["hf_ratio"]):
            trainer.save_checkpoint("best")


def validation_files(folder: str) -> list[Path]:
    """Every image of a folder of validation images for super-resolution evaluations."""
    from ganforge.data.superres import image_files

    root = Path(folder).expanduser()
    files = image_files(root) if root.is_dir() else []
    if not files:
        raise GanforgeError(f"Validation folder {folder!r} holds no images; expected a folder of image files (eval_data).")
    return files
