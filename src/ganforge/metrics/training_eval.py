"""Evaluate the generator every N steps during training, log the scores, keep the best checkpoint."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

from ganforge.contract import EVENT, Callback
from ganforge.metrics.evaluate import DIRECTION, parse_metrics, result_key
from ganforge.runlog import read_metrics


class EvalCallback(Callback):
    """Every `every` steps scores `n` samples of the sampled generator (EMA copy if any) and logs an "eval" event.

    When the first metric improves (lower fd/kid, higher is/precision/recall), the whole training
    state is saved as the "best" checkpoint. The best value so far is re-read from metrics.jsonl on
    resume, so a resumed run does not overwrite a better checkpoint.
    """

    def __init__(self, every: int, n: int = 2000, metrics: Sequence[str] = ("fd",), seed: int = 0,
                 extractor: str = "auto", inception_weights: Optional[str] = None):
        self.every, self.n, self.seed = int(every), int(n), seed
        self.metrics = parse_metrics(metrics)
        self.extractor, self.inception_weights = extractor, inception_weights
        self.key = result_key(self.metrics[0])
        self.lower_is_better = DIRECTION[self.key]
        self.best: Optional[float] = None

    def on_start(self, trainer) -> None:
        """Recover the best score of earlier evaluations of this run."""
        _, events = read_metrics(trainer.run_dir / "metrics.jsonl")
        for record in events:
            if record.get(EVENT) == "eval" and isinstance(record.get(self.key), (int, float)):
                if record["step"] <= trainer.step and self._better(float(record[self.key])):
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
