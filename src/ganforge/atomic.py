"""Writing files and folders so that a reader, or a kill at any moment, sees the old or the new one whole."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_permissions(folder: Path) -> None:
    """Give every file the mode ordinary outputs get (0644 under the usual umask), folders 0755."""
    mask = _umask()
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file so that readers see the old or the new content, never a torn one."""
    with file_written_atomically(path) as tmp:
        tmp.write_text(text)


@contextmanager
def file_written_atomically(path: Path) -> Iterator[Path]:
    """A hidden temporary sibling of `path` for the block to write (by any writer); it replaces `path` when the
    block ends without error, with ordinary permissions, and is removed when it fails or is interrupted."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as indented JSON to `path` whole or not at all, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def write_folder_atomic(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Build `folder` anew: `fill(tmp)` writes into a hidden sibling, which then replaces `folder` by renames.

    An existing `folder` stays whole until the new one is complete; files get ordinary permissions.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        fill(tmp)
        _publish_permissions(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def nearest_existing(path: Path) -> Path:
    """`path` itself when it exists, else its nearest existing parent (the root at worst)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def check_writable_folder(folder: Path, expected: str) -> None:
    """Refuse, in one sentence ending with what was `expected`, a folder to write into (made if missing) whose
    nearest existing part is a file or a folder this process cannot write into."""
    from ganforge.errors import GanforgeError

    folder = Path(folder)
    existing = nearest_existing(folder)
    if existing.exists() and not existing.is_dir():
        where = "is a file" if existing == folder else f"cannot be made because {str(existing)!r} is a file"
        raise GanforgeError(f"Output folder {str(folder)!r} {where}; expected {expected}.")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise GanforgeError(f"Output folder {str(existing)!r} is not writable; expected {expected}.")


_LEFTOVER = re.compile(r"^\..+\.(?:tmp|old)(\d+)$")


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the hidden half-written files and folders (`.NAME.tmpPID`, `.NAME.oldPID`) that processes no longer
    alive left in `folder`; return what was removed. Those of a live process are its work in progress."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for entry in Path(folder).iterdir():
        match = _LEFTOVER.match(entry.name)
        if match is None or process_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


_DISK_FULL_TEXT = ("No space left on device", "os error 28", "Disk quota exceeded", "os error 122")


def disk_full_error(exc: BaseException, path: Path) -> BaseException:
    """An OSError(ENOSPC) naming `path` when `exc` reports a full disk in words (as safetensors does), else `exc`."""
    if any(text in str(exc) for text in _DISK_FULL_TEXT):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return exc
