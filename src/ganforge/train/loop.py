"""The referee: one generic training loop that knows no family."""
from __future__ import annotations

import errno
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional, Union

import torch

from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import Callback
from ganforge.errors import GanforgeError
from ganforge.export import run_export_dir, save_players
from ganforge.games.registry import get_family
from ganforge.train.checkpoint import Checkpoints, read_training_state
from ganforge.train.distributed import all_min, broadcast_module, gather_rng_states, on_rank0, wait_for_all, world
from ganforge.train.ema import EMA
from ganforge.train.guard import Guard, TrainingDiverged
from ganforge.train.records import RecordBuffer
from ganforge.train.run_dir import new_run, open_run
from ganforge.train.run_lock import RunLock
from ganforge.train.runtime import autocast, compile_players, machine_summary, make_runtime, pick_device, wants_compile
from ganforge.train.sizes import check_sizes
from ganforge.train.sources import image_source
from ganforge.train.stop import StopOnSignal, TrainingStopped
from ganforge.train.sync_batchnorm import sync_batchnorm
from ganforge.train.threads import thread_policy


class Trainer:
    """Runs a game round after round within a budget, around it EMA, logs, samples and checkpoints."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, callbacks: Sequence[Callback] = (),
                 checkpoint: Optional[Path] = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        family = get_family(cfg.model)
        options = resolve_options(family.options, cfg.options, cfg.model)
        self.runtime = make_runtime(cfg)
        self.is_main = self.runtime.rank == 0
        check_sizes(cfg, family, options, self.runtime)
        torch.manual_seed(cfg.seed)
        self.source = (family.load_data or image_source)(cfg, options, self.runtime)
        self.info = self.source.info
        self.game = family.build(cfg, options, self.info, self.runtime)
        for module in self.game.players.values():
            broadcast_module(module)
        torch.manual_seed(cfg.seed + self.runtime.rank)
        self.ema = EMA(self.game.generator, cfg.ema_decay, cfg.ema_rampup) if cfg.ema_decay > 0 else None
        if cfg.sync_batchnorm and self.runtime.world_size > 1:  # after the EMA copy, which renders alone on rank 0
            for module in self.game.players.values():
                sync_batchnorm(module)
        if wants_compile(cfg, self.runtime.device):  # after the EMA copy, which only renders and exports
            compile_players(self.game.compilable_players().values())
        self.fixed_inputs = self.game.sample_inputs(64, torch.Generator().manual_seed(cfg.seed))
        self.callbacks = list(callbacks)
        self.checkpoints = Checkpoints(self.run_dir, cfg.keep_checkpoints)
        self.step, self.elapsed = 0, 0.0
        watched = {**self.game.players, **({"the EMA generator": self.ema.module} if self.ema is not None else {})}
        self.guard, self.warnings, self._checked_at = Guard(watched, cfg.loss_bound), [], -1
        if checkpoint is not None:
            self._restore(read_training_state(checkpoint), checkpoint)
        self.total_steps = self._planned_steps()

    # --- what callbacks use ---------------------------------------------------------------------
    @property
    def sample_generator(self) -> torch.nn.Module:
        """The EMA generator when one is kept, else the live one."""
        return self.ema.module if self.ema is not None else self.game.generator

    def log_event(self, record: dict) -> None:
        """Append one JSON line to metrics.jsonl (main process only)."""
        if self.is_main:
            self.records.write([record])

    def save_checkpoint(self, tag: Optional[str] = None) -> None:
        """Checkpoint the whole state (main process) once its weights are checked finite, and export its generator: a step
        checkpoint refreshes export/, a named one (`tag`, e.g. "best") writes export-<tag>/."""
        if self._checked_at != self.step:
            self.guard.check(self.step, [], self.guard.device_flags(None, self.runtime.device).tolist(), self._kept())
            self._checked_at = self.step
        # step checkpoints run on every rank: keep each rank's RNG so a resumed DDP run draws what it would have
        rng_ranks = gather_rng_states() if tag is None else None
        if not self.is_main:
            return
        try:
            self.checkpoints.save(self._state(rng_ranks), self.step, tag)
            info = {**self.game.export_info(), "family": self.cfg.model, "summary": get_family(self.cfg.model).summary,
                    "data": self.cfg.data, "steps": self.step, "batch_size": self.cfg.batch_size,
                    "train_seconds": round(self.elapsed, 3), "machine": machine_summary(self.runtime.device)}
            if tag:
                info["checkpoint"] = tag
            save_players(self.game.export_players(self.sample_generator), info, run_export_dir(self.run_dir, tag))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            latest = self.checkpoints.latest()
            raise GanforgeError(f"The disk is full while saving step {self.step} of run {str(self.run_dir)!r}; "
                                f"{'its last good checkpoint ' + latest.name + ' is kept' if latest else 'no checkpoint was kept'}, "
                                f"expected free space: make room and resume with --resume {str(self.run_dir)!r}.") from None

    # --- the loop -------------------------------------------------------------------------------
    def run(self) -> Path:
        """Play rounds until the budget is spent; return the run folder."""
        self.records = RecordBuffer(self.run_dir / "metrics.jsonl", enabled=self.is_main)
        for cb in self.callbacks:
            cb.on_start(self)
        self.game.train_mode(True)
        started, elapsed_before = time.perf_counter(), self.elapsed
        self.stop = StopOnSignal(enabled=self.runtime.world_size == 1)  # under torchrun the launcher stops every rank
        try:
            with self.stop, thread_policy(self.cfg.threads, self.runtime.device) as self.threads:
                self._play(started, elapsed_before)
            if self.stop.signum is not None and not self._finished():  # a signal during the last save ends nothing early
                latest = self.checkpoints.latest()
                raise TrainingStopped(f"Training was stopped by {self.stop.name} at step {self.step}; checkpoint "
                                      f"{latest.name if latest else 'none'} was saved, resume with --resume {str(self.run_dir)!r}.",
                                      self.stop.signum)
        except BaseException as exc:
            if isinstance(exc, TrainingDiverged):
                self.log_event({"event": "stopped", "step": self.step, "message": str(exc)})
            for cb in self.callbacks:  # e.g. the progress bar closes its line before the error is printed
                getattr(cb, "on_stop", lambda trainer: None)(self)
            raise
        for cb in self.callbacks:
            cb.on_end(self)
        wait_for_all()
        return self.run_dir

    def _play(self, started: float, elapsed_before: float) -> None:
        game, cfg = self.game, self.cfg
        while not self._finished() and self.stop.signum is None:
            game.set_phase(self.step, self.total_steps)
            with autocast(self.runtime):
                logs = {}
                for _ in range(game.critic_steps):
                    logs.update(game.discriminator_step(self.source.next()))
                logs.update(game.generator_step(self.source.next()))
            if self.ema is not None:
                self.ema.update(game.generator, game.current_ema_decay())
            self.step += 1
            if self.threads is not None and self.threads.threads != (threads := self.threads.tick()):
                # a new thread count reduces in another order: the event says where bit-for-bit results may part
                self.log_event({"event": "threads", "step": self.step, "threads": threads})
            self.elapsed = elapsed_before + time.perf_counter() - started
            self.records.add(self.step, logs)
            if self.step % cfg.log_every == 0 or self._finished():
                self._flush()
            for cb in self.callbacks:
                cb.on_round_end(self, self.step)
            if self.step % cfg.checkpoint_every == 0 and not self._finished() and self.stop.signum is None:
                self.save_checkpoint()
        self._flush()
        self.save_checkpoint()

    def _flush(self) -> None:
        """Write the pending logs and check them and the weights, all in one transfer from the device."""
        if not self.records.pending and self._checked_at == self.step:
            return
        records, flags = self.records.flush(self.elapsed, lambda values: all_min(self.guard.device_flags(values, self.runtime.device)))
        warning = self.guard.check(self.step, records, flags, self._kept())
        self._checked_at = self.step
        if warning is not None:
            self.warnings.append(warning)
            self.log_event(warning)
        if records:
            if self.cfg.minutes is not None:
                self.total_steps = self._planned_steps()
            for cb in self.callbacks:
                cb.on_log(self, records)

    def _kept(self) -> str:
        latest = self.checkpoints.latest()
        return (f"the run keeps its last finite checkpoint {latest.name}" if latest is not None
                else "no checkpoint had been written, so none was kept")

    # --- budget -----------------------------------------------------------------------------------
    def _planned_steps(self) -> int:
        cfg = self.cfg
        if cfg.steps is not None:
            return cfg.steps
        if cfg.epochs is not None:
            batches_per_round = self.game.critic_steps + 1
            return max(1, math.ceil(cfg.epochs * self.source.steps_per_epoch / batches_per_round))
        # minutes: projected from the pace so far (only schedules use it; the clock decides the end)
        if self.step == 0 or self.elapsed <= 0:
            return get_family(cfg.model).default_steps
        return max(self.step, int(self.step * cfg.minutes * 60 / self.elapsed))

    def _finished(self) -> bool:
        if self.cfg.minutes is not None:
            return self.elapsed >= self.cfg.minutes * 60
        return self.step >= self.total_steps

    # --- state ------------------------------------------------------------------------------------
    def _state(self, rng_ranks: Optional[list] = None) -> dict:
        state = {"step": self.step, "elapsed_seconds": self.elapsed, "family": self.cfg.model,
                 "game": self.game.state_dict(), "source": self.source.state_dict(),
                 "rng": {"torch": torch.get_rng_state()}}
        if rng_ranks is not None and len(rng_ranks) > 1:
            state["rng"]["torch_ranks"] = rng_ranks
        if torch.cuda.is_available():
            state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def _restore(self, state: dict, where: Path) -> None:
        if state.get("family") != self.cfg.model:
            raise GanforgeError(f"Checkpoint {str(where)!r} belongs to model {state.get('family')!r}; expected {self.cfg.model!r}.")
        try:
            self.game.load_state_dict(state["game"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise GanforgeError(f"Checkpoint {str(where)!r} does not fit this run's players ({type(exc).__name__})"
                                f"; expected one written by the same configuration.") from None
        self.source.load_state_dict(state["source"])
        ranks = state["rng"].get("torch_ranks")
        own = ranks[self.runtime.rank] if ranks is not None and len(ranks) == self.runtime.world_size else state["rng"]["torch"]
        torch.set_rng_state(own)
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed_seconds"])


def run_training(cfg: TrainConfig, resume: Optional[Path] = None,
                 callbacks: Union[Sequence[Callback], Callable[[TrainConfig], Sequence[Callback]]] = ()) -> Path:
    """Train a new run from `cfg` (or resume the run folder `resume`, taking a new budget from `cfg`).

    `callbacks` is a list, or a function of the run's resolved config that returns one.
    """
    main_process = world()[0] == 0
    lock = None
    if resume is not None:  # the run is locked before its checkpoint is looked up
        lock = RunLock(resume) if main_process and Path(resume).is_dir() else None
        cfg, run_dir, checkpoint = open_run(resume, cfg.steps, cfg.epochs, cfg.minutes)
    else:  # under torchrun rank 0 creates the folder (and picks its name) for every process
        cfg, run_dir = on_rank0(lambda: new_run(cfg), pick_device(cfg.device, world()[1]))
        lock = RunLock(run_dir) if main_process else None
        checkpoint = None
    try:
        return _train_locked(cfg, run_dir, checkpoint, callbacks, resume is None)
    finally:
        if lock is not None:
            lock.release()


def _train_locked(cfg: TrainConfig, run_dir: Path, checkpoint: Optional[Path],
                  callbacks: Union[Sequence[Callback], Callable[[TrainConfig], Sequence[Callback]]], new: bool) -> Path:
    if world()[0] == 0:
        Checkpoints(run_dir).remove_leftovers()
    try:
        if callable(callbacks):
            callbacks = callbacks(cfg)
        trainer = Trainer(cfg, run_dir, callbacks, checkpoint)
    except BaseException:
        if new:  # a run that never started leaves nothing behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if checkpoint is not None and trainer._finished():
        raise GanforgeError(f"Run {str(run_dir)!r} has already played {trainer.step} steps, its whole budget; "
                            f"expected a larger --steps, --epochs or --minutes to continue it.")
    return trainer.run()
