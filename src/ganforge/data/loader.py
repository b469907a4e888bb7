"""Background loading: batches are read on one worker thread while the device trains on the last one."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, TypeVar

Plan = TypeVar("Plan")
Result = TypeVar("Result")


class Prefetcher(Generic[Plan, Result]):
    """Runs `load(plan)` for submitted plans on one background thread; each result comes back as a Future.

    The caller decides the plans (which rows) in order, so what each batch holds never depends on the
    thread's timing; one worker keeps the reads in submission order and leaves the cores to training.
    """

    def __init__(self, load: Callable[[Plan], Result]):
        self._load = load
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganforge-loader")

    def submit(self, plan: Plan) -> Future:
        """Start loading `plan`; the Future holds its result (or the error the load raised)."""
        return self._pool.submit(self._load, plan)

    def close(self) -> None:
        """Let the reads in flight finish and stop the thread."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
