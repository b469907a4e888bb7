"""Where a training run's time and resident memory go, phase by phase: imports, set-up, rounds (data, D step,
G step, EMA, log flushes), checkpoints and each callback (sample grids, report, copy check, model card), from a
thread sampling this process's RSS every 5 ms. Linux only (/proc).

As a script it takes the arguments of `ganforge train` and trains in this process:

    python benchmarks/run_phases.py --steps 250 --out /tmp/phases --name probe

`python benchmarks/dcgan_256.py --phases` uses `run_phases` and `phase_table` as a module.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ganforge.config import TrainConfig
from ganforge.contract import Callback

HOOKS = ("on_start", "on_round_end", "on_log", "on_end", "on_stop")
BETWEEN = "set-up, loop and Python between phases"


def rss_kb() -> int:
    """This process's resident memory (kB) from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


class Timeline:
    """Marks (time, phase name) set by the wrapped calls, and RSS samples (time, kB) from a background thread."""

    def __init__(self, every: float = 0.005):
        self.marks: list[tuple[float, str]] = []
        self.samples: list[tuple[float, int]] = []
        self.every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_kb()))
            time.sleep(self.every)

    def __enter__(self) -> Timeline:
        self._thread.start()
        self.mark(BETWEEN)
        return self

    def __exit__(self, *exc) -> None:
        self.mark(BETWEEN)
        time.sleep(2 * self.every)
        self._stop.set()
        self._thread.join()

    def mark(self, name: str) -> None:
        self.marks.append((time.perf_counter(), name))

    def timed(self, name: str, call: Callable) -> Callable:
        """`call`, marking `name` while it runs (a nested mark ends it early)."""
        def wrapped(*args, **kwargs):
            self.mark(name)
            try:
                return call(*args, **kwargs)
            finally:
                self.mark(BETWEEN)
        return wrapped

    def phases(self) -> dict[str, dict]:
        """Per phase: calls, seconds in all and the highest RSS sampled while it ran (MB)."""
        table: dict[str, dict] = {}
        for (start, name), (end, _) in zip(self.marks, self.marks[1:]):
            peak = max((kb for t, kb in self.samples if start <= t <= end), default=0)
            row = table.setdefault(name, {"calls": 0, "seconds": 0.0, "peak_rss_mb": 0.0})
            row["calls"] += 1
            row["seconds"] += end - start
            row["peak_rss_mb"] = max(row["peak_rss_mb"], peak / 1e3)
        return table


class _Timed(Callback):
    """A callback whose hooks are marked on the timeline under its class name."""

    def __init__(self, inner: Callback, timeline: Timeline):
        self.inner = inner
        for hook in HOOKS:
            if hasattr(inner, hook):
                setattr(self, hook, timeline.timed(f"{type(inner).__name__}.{hook}", getattr(inner, hook)))


class _RoundParts(Callback):
    """Wraps the game's steps, the data source and the EMA update once the trainer is built."""

    def __init__(self, timeline: Timeline):
        self.timeline = timeline

    def on_start(self, trainer) -> None:
        t = self.timeline
        trainer.game.discriminator_step = t.timed("D step", trainer.game.discriminator_step)
        trainer.game.generator_step = t.timed("G step", trainer.game.generator_step)
        trainer.source.next = t.timed("data (next batch)", trainer.source.next)
        if trainer.ema is not None:
            trainer.ema.update = t.timed("EMA update", trainer.ema.update)
        trainer._flush = t.timed("log flush (guard)", trainer._flush)
        trainer.save_checkpoint = t.timed("checkpoint + export", trainer.save_checkpoint)


def run_phases(cfg: TrainConfig) -> tuple[Path, dict[str, dict], float]:
    """Train `cfg` here with the standard callbacks; (run folder, phases, peak RSS MB over the whole run)."""
    from ganforge.train.api import default_callbacks
    from ganforge.train.loop import run_training

    with Timeline() as timeline:
        run = run_training(cfg, None, lambda resolved: [_RoundParts(timeline)] + [
            _Timed(c, timeline) for c in default_callbacks(resolved, progress=False)])
    return run, timeline.phases(), max(kb for _, kb in timeline.samples) / 1e3


def phase_table(phases: dict[str, dict]) -> str:
    """The phases that took time, longest first, as a markdown table."""
    lines = ["| phase | calls | seconds in all | highest RSS while it ran (MB) |", "|---|---|---|---|"]
    for name, row in sorted(phases.items(), key=lambda kv: -kv[1]["seconds"]):
        if row["seconds"] >= 0.001:
            lines.append(f"| {name} | {row['calls']} | {row['seconds']:.3f} | {row['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM, MB)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1e3


def process_age() -> float:
    """Seconds since this process started (interpreter start-up and imports so far), from /proc."""
    import os

    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    return float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    """Train the run `ganforge train ARGS` would, in this process, and print the phase table."""
    from ganforge.train.command import add_arguments, config_from_args
    from ganforge.train.run_dir import fill_from_data

    imports = process_age()
    parser = argparse.ArgumentParser(description="Phases of one `ganforge train` run (its arguments; --resume is not taken).")
    add_arguments(parser)
    cfg, note = fill_from_data(config_from_args(parser.parse_args(argv)))
    if note:
        print(note)
    run, table, peak = run_phases(cfg)
    print(f"run {run}: start-up and imports {imports:.2f} s; highest RSS sampled {peak:.0f} MB; process peak (VmHWM) {peak_rss_mb():.0f} MB")
    print(phase_table(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
