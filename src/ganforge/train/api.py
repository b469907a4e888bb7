"""The training API: `train(cfg)` runs the referee with the standard callbacks handed to it."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional, Union

from ganforge.config import TrainConfig
from ganforge.contract import Callback
from ganforge.train.loop import run_training
from ganforge.train.observers import ProgressBar, RunArtifacts, SampleGrids


def default_callbacks(cfg: TrainConfig, progress: bool = True) -> list[Callback]:
    """Progress bar, sample grids, end-of-run curves/GIF/report, copy check and model card, and evaluation and snapshots when configured."""
    callbacks: list[Callback] = [SampleGrids(cfg.sample_every), RunArtifacts()]
    if cfg.copy_check_n > 0:
        from ganforge.train.copy_check import CopyCheckAtEnd

        callbacks.append(CopyCheckAtEnd(cfg.copy_check_n))
    if progress:
        callbacks.insert(0, ProgressBar())
    if cfg.eval_every > 0:
        from ganforge.metrics.training_eval import EvalCallback

        callbacks.append(EvalCallback(cfg.eval_every, cfg.eval_n, cfg.eval_metrics.split(","), max_psnr_cost=cfg.eval_psnr_cost,
                                      superres_data=cfg.eval_data or None))
    if getattr(cfg, "tensorboard", False):
        from ganforge.train.tensorboard import TensorBoard

        callbacks.append(TensorBoard(cfg.sample_every))
    if cfg.snapshot_every > 0:
        from ganforge.report.snapshots import Snapshots

        callbacks.append(Snapshots(cfg.snapshot_every))
    from ganforge.train.model_card import ModelCardAtEnd

    callbacks.append(ModelCardAtEnd())  # last: the card reads the copy check and the evaluations
    return callbacks


def train(cfg: TrainConfig, resume: Optional[Path] = None,
          callbacks: Union[None, Sequence[Callback], Callable[[TrainConfig], Sequence[Callback]]] = None, progress: bool = True) -> Path:
    """Train (or resume) a run; `callbacks` (a list, or a function of the resolved config returning one) None means the
    standard ones of `default_callbacks`."""
    if callbacks is None:
        return run_training(cfg, resume, lambda resolved: default_callbacks(resolved, progress))
    return run_training(cfg, resume, callbacks)
