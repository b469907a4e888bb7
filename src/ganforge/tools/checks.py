"""Checks of the tools' command-line values, each failing with one sentence that names the value."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

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
