"""Where a `ganforge train` run's wall clock and memory go, phase by phase: imports, set-up, rounds, checkpoints,
sample grids, the report, the copy check and the model card.

Runs `ganforge train` with the given arguments (those of `ganforge train`) in this process, wraps each phase's function to time it, and
samples the resident set size every 20 ms from a background thread; prints each phase's seconds, the peak RSS
sampled while it ran and the process's peak (VmHWM) after it, then the RSS at a few rounds. Linux only (/proc).

    python benchmarks/run_phases.py --steps 250 --out /tmp/phases --name probe --no-progress
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

T0 = time.perf_counter()
SAMPLES: list[tuple[float, float]] = []  #: (seconds since start, VmRSS MiB)
EVENTS: list[tuple[str, float, float, float]] = []  #: (phase, start, end, VmHWM MiB after)
ROUNDS_SHOWN = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000)


def memory() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def sample(stop: threading.Event) -> None:
    while not stop.is_set():
        SAMPLES.append((time.perf_counter() - T0, memory()[0]))
        time.sleep(0.02)


def wrap(owner, name: str, label: str) -> None:
    """Record each call of owner.name as phase `label`."""
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.perf_counter() - T0
        try:
            return original(*args, **kwargs)
        finally:
            EVENTS.append((label, start, time.perf_counter() - T0, memory()[1]))

    setattr(owner, name, timed)


class RoundMarks:
    """A callback noting the time and RSS at ROUNDS_SHOWN."""

    def __init__(self):
        self.marks: list[tuple[int, float, float]] = []

    def on_start(self, trainer) -> None:
        pass

    def on_round_end(self, trainer, step: int) -> None:
        if step in ROUNDS_SHOWN:
            self.marks.append((step, time.perf_counter() - T0, memory()[0]))

    def on_log(self, trainer, records) -> None:
        pass

    def on_end(self, trainer) -> None:
        pass


def main() -> int:
    stop = threading.Event()
    threading.Thread(target=sample, args=(stop,), daemon=True).start()
    import torch  # noqa: F401  (timed: the import is part of every run's start)

    EVENTS.append(("import torch", 0.0, time.perf_counter() - T0, memory()[1]))
    import ganforge.metrics.copy_check as metrics_copy_check
    import ganforge.report.gif as gif
    import ganforge.report.html as html
    import ganforge.train.api as api
    import ganforge.train.copy_check as copy_check
    import ganforge.train.loop as loop
    import ganforge.train.model_card as model_card
    import ganforge.train.observers as observers
    from ganforge import cli

    EVENTS.append(("import ganforge", 0.0, time.perf_counter() - T0, memory()[1]))
    for owner, name, label in ((loop.Trainer, "__init__", "set-up (data, players)"), (loop.Trainer, "_play", "rounds + final checkpoint"),
                               (loop.Trainer, "save_checkpoint", "  checkpoints (with export)"), (observers.SampleGrids, "save", "  sample grids"),
                               (observers.RunArtifacts, "on_end", "report (curves, GIF, HTML)"), (html, "plot_curves", "  curves"),
                               (gif, "make_gif", "  GIF"), (html, "write_html_report", "  HTML"),
                               (copy_check.CopyCheckAtEnd, "on_end", "copy check"),
                               (metrics_copy_check, "load_reference_images", "  reading the reference images"),
                               (metrics_copy_check, "copy_check", "  nearest neighbours"),
                               (model_card.ModelCardAtEnd, "on_end", "model card")):
        wrap(owner, name, label)
    marks = RoundMarks()
    standard = api.default_callbacks
    api.default_callbacks = lambda cfg, progress=True: [marks, *standard(cfg, progress)]
    status = cli.main(["train", *sys.argv[1:]])
    stop.set()
    print(f"exit {status}; {time.perf_counter() - T0:.2f} s in all; peak RSS (VmHWM) {memory()[1]:.0f} MiB")
    phases: dict[str, list] = {}
    for label, start, end, hwm in EVENTS:
        peak = max((rss for t, rss in SAMPLES if start <= t <= end), default=0.0)
        calls, seconds, peak_before, hwm_before, first = phases.get(label, [0, 0.0, 0.0, 0.0, start])
        phases[label] = [calls + 1, seconds + end - start, max(peak_before, peak), max(hwm_before, hwm), first]
    print("| phase | calls | seconds | from s | peak RSS sampled in it, MiB | VmHWM after, MiB |\n|---|---|---|---|---|---|")
    for label, (calls, seconds, peak, hwm, first) in sorted(phases.items(), key=lambda item: item[1][4]):
        print(f"| {label} | {calls} | {seconds:.2f} | {first:.2f} | {peak:.0f} | {hwm:.0f} |")
    for step, at, rss in marks.marks:
        print(f"round {step} at {at:.2f} s: RSS {rss:.0f} MiB")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
