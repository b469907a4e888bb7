"""How many threads a CPU run computes with: the cores that other processes leave free, re-read as it runs.

Two threads that meet at a barrier after every operation stall when another process holds one of the two
cores: the scheduler gives each process group its fair share, so the run gets one core for its two threads,
and every operation waits for the thread that is not running (measured 7-14x slower per round beside one
CPU-bound process; docs/speed.md). The governor counts, every `window` seconds, the CPU time that other
processes took from the cores this process may run on (/proc/stat minus this process's own CPU time) and
computes with the cores left over, between 1 and the thread count it started with.

The user's setting wins: a fixed `threads` in the config, or OMP_NUM_THREADS in the environment, turns it
off. Results are then reproducible bit for bit; an adapting run's are not across different loads (a
different thread count reduces in a different order).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import torch

PROC_STAT = Path("/proc/stat")
USER_ENV = "OMP_NUM_THREADS"  #: set by the user: the thread count is theirs, the governor stays off
WINDOW_S = 2.0  #: seconds of wall clock between two readings of the machine's load


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def cpu_jiffies(stat_text: str, cpus: set[int]) -> tuple[int, int]:
    """(busy, total) clock ticks of the given CPUs since boot, from /proc/stat's per-CPU lines.

    Busy is everything but idle and iowait: user, system, interrupts and time stolen by the hypervisor.
    """
    busy = total = 0
    for line in stat_text.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal (guest is inside user)
        total += sum(ticks)
        busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def others_cores(busy_ticks: int, total_ticks: int, own_seconds: float, cpus: int, hz: float) -> float:
    """Cores' worth of CPU time that other processes used over an interval: the CPUs' busy ticks less this
    process's own CPU seconds, as a share of the interval (`total_ticks` over all `cpus`)."""
    if total_ticks <= 0:
        return 0.0
    others = busy_ticks - own_seconds * hz
    return max(0.0, others / total_ticks * cpus)


HYSTERESIS = 0.15  #: cores' worth past the half-way mark before the count moves (no flapping at 0.5 core taken)


def choose_threads(others: float, cpus: int, ceiling: int, current: int) -> int:
    """Threads for the cores left free when others use `others` cores' worth: rounded, from 1 to `ceiling`;
    `current` is kept unless the free cores differ from it by more than a half plus HYSTERESIS."""
    free = cpus - others
    if abs(free - current) < 0.5 + HYSTERESIS:
        return max(1, min(ceiling, current))
    return max(1, min(ceiling, math.floor(free + 0.5)))


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _read_stat() -> Optional[str]:
    try:
        return PROC_STAT.read_text()
    except OSError:
        return None


class ThreadGovernor:
    """Sets torch's intra-op thread count to the free cores every `window` seconds (call `tick` once a round)."""

    def __init__(self, ceiling: int, window: float = WINDOW_S, read_stat: Callable[[], Optional[str]] = _read_stat,
                 own_seconds: Callable[[], float] = _own_cpu_seconds, clock: Callable[[], float] = time.monotonic,
                 set_threads: Callable[[int], None] = torch.set_num_threads):
        self.ceiling, self.window = ceiling, window
        self.read_stat, self.own_seconds, self.clock, self.set_threads = read_stat, own_seconds, clock, set_threads
        self.cpus = allowed_cpus()
        self.hz = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self.threads = ceiling
        self.changes = 0  #: how many times the thread count moved
        self.readings: list[float] = []  #: the other processes' cores' worth at each reading
        self._last = self._reading()

    def _reading(self) -> Optional[tuple[float, int, int, float]]:
        text = self.read_stat()
        if text is None:
            return None
        busy, total = cpu_jiffies(text, self.cpus)
        return self.clock(), busy, total, self.own_seconds()

    def tick(self) -> int:
        """Re-read the load once `window` seconds have passed since the last reading; return the thread count."""
        if self._last is None or self.clock() - self._last[0] < self.window:
            return self.threads
        now = self._reading()
        if now is None:
            return self.threads
        others = others_cores(now[1] - self._last[1], now[2] - self._last[2], now[3] - self._last[3], len(self.cpus), self.hz)
        self._last = now
        self.readings.append(round(others, 2))
        threads = choose_threads(others, len(self.cpus), self.ceiling, self.threads)
        if threads != self.threads:
            self.set_threads(threads)
            self.threads, self.changes = threads, self.changes + 1
        return self.threads


@contextlib.contextmanager
def thread_policy(fixed: int, device: torch.device, environ=os.environ) -> Iterator[Optional[ThreadGovernor]]:
    """The thread count of a run on `device` with config `threads=fixed`, for the block; torch's count is restored after.

    Yields a governor to `tick` once a round, or None where the count is the user's (a fixed value > 0, set
    here; OMP_NUM_THREADS) or where the run computes on a GPU.
    """
    before = torch.get_num_threads()
    governor = None
    if fixed > 0:
        torch.set_num_threads(fixed)
    elif device.type == "cpu" and not environ.get(USER_ENV) and before > 1:
        governor = ThreadGovernor(before)
    try:
        yield governor
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
