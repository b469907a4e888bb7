"""A run folder belongs to one process: an advisory lock (flock) the kernel drops when its holder dies."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ganforge.errors import GanforgeError

LOCK_NAME = ".lock"  #: the file in a run folder that the training process holds locked


class RunLock:
    """An exclusive, non-blocking lock on `run_dir/.lock`, held until `release()` or the process ends.

    The file holds the holder's process id and is removed on release, so a run folder is left as it was
    found; a holder killed with -9 leaves an unlocked file, which the next process takes over.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        while True:  # a file unlinked by a releasing holder between our open and our lock is not the lock: retry
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                raise GanforgeError(f"Run {str(run_dir)!r} cannot be locked ({exc.strerror or type(exc).__name__}); "
                                    "expected a writable run folder.") from None
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                os.close(self._fd)
                raise GanforgeError(f"Run {str(run_dir)!r} is being trained by process {holder}; expected one process per run "
                                    "(wait for it to finish or stop it first).") from None
            try:
                if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(self._fd)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self._fd >= 0:
            try:
                self.path.unlink()
            except OSError:
                pass
            os.close(self._fd)
            self._fd = -1
