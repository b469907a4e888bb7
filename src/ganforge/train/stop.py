"""SIGTERM and SIGINT end training at the next round boundary, with a checkpoint saved within a bounded time."""
from __future__ import annotations

import signal
import threading
from typing import Optional

from ganforge.errors import GanforgeError

SAVE_DEADLINE_S = 120  #: after a stop signal, the process ends by then even if the last round and save have not
HANDLED = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(GanforgeError):
    """Training ended early by a signal, after saving its checkpoint; `exit_code` is the shell's 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopOnSignal:
    """While entered, the first SIGTERM/SIGINT only sets `signum` (and arms a SAVE_DEADLINE_S alarm); a second one
    raises KeyboardInterrupt at once. Does nothing outside the main thread or when `enabled` is False."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum: Optional[int] = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        if hasattr(signal, "SIGALRM"):
            signal.alarm(SAVE_DEADLINE_S)

    @property
    def name(self) -> str:
        """SIGTERM, SIGINT, or an empty string before any signal."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def __enter__(self) -> StopOnSignal:
        if self.enabled:
            self._previous = {s: signal.signal(s, self._handle) for s in HANDLED}
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            if self.signum is not None and hasattr(signal, "SIGALRM"):
                signal.alarm(0)
