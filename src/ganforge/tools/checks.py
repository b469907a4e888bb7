"""Checks of the tools' command-line values, each failing with one sentence that names the value."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ganforge.atomic import nearest_existing
from ganforge.data.images import IMAGE_SUFFIXES, is_image_file
from ganforge.errors import GanforgeError

SEED_LIMIT = 2 ** 32  #: seeds run from 0 to SEED_LIMIT - 1, as in training


def positive(value: int, flag: str) -> int:
    """`value` if it is an integer >= 1, else an error naming `flag`."""
    if value < 1:
        raise GanforgeError(f"Value {flag} {value} is invalid; expected an integer >= 1.")
    return value


def seed(value: int, flag: str = "--seed") -> int:
    """`value` if it is a seed training would accept (0 to 2**32 - 1)."""
    if not 0 <= value < SEED_LIMIT:
        raise GanforgeError(f"Seed {flag} {value} is invalid; expected an integer from 0 to 2**32 - 1.")
    return value


def truncation(value: Optional[float]) -> Optional[float]:
    """`value` (None allowed) if it is a finite number."""
    if value is not None and not math.isfinite(value):
        raise GanforgeError(f"Truncation --truncation {value} is invalid; expected a finite number (1 keeps every style, 0 gives the average image).")
    return value


def output_files(paths: Sequence[Path], force: bool = False) -> list[Path]:
    """`paths`, once it is sure they can be written: their folder can be made or written into, and none of
    them exists (or `force` allows replacing existing files); the parent folder is created."""
    for path in paths:
        if path.is_dir():
            raise GanforgeError(f"Output {str(path)!r} is a folder; expected a file path for --out.")
        if path.exists() and not force:
            raise GanforgeError(f"Output {str(path)!r} already exists; expected a new --out path, or --force to replace it.")
    for parent in {p.parent for p in paths}:
        existing = nearest_existing(parent)
        if existing.exists() and not existing.is_dir():
            where = "is a file" if existing == parent else f"cannot be made because {str(existing)!r} is a file"
            raise GanforgeError(f"Output folder {str(parent)!r} {where}; expected --out inside a folder.")
        if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
            raise GanforgeError(f"Output folder {str(existing)!r} is not writable; expected --out in a folder you can write into.")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanforgeError(f"Output folder {str(parent)!r} cannot be created ({exc.strerror or type(exc).__name__}); "
                                f"expected a writable place for --out.") from None
    return list(paths)


def collect_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named, folders expanded to their image files (sorted, not recursive)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
            if not found:
                raise GanforgeError(f"Folder {str(item)!r} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}.")
            files += found
        elif path.is_file():
            if not is_image_file(path):
                raise GanforgeError(f"Input {str(item)!r} is not an image file; expected a name ending in {', '.join(IMAGE_SUFFIXES)}.")
            files.append(path)
        else:
            raise GanforgeError(f"Input {str(item)!r} does not exist; expected an image file or a folder of images.")
    if not files:
        raise GanforgeError("No input images were given; expected image files or folders.")
    return files
