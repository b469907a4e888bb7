"""Resolution levels of progressive networks: level l is 4·2^l pixels (4 -> 0, 8 -> 1, ...)."""
from __future__ import annotations

import math

from ganforge.errors import GanforgeError


def level_of(resolution: int) -> int:
    """The level of a power-of-two resolution >= 4 (4 -> 0, 8 -> 1, ...)."""
    level = int(round(math.log2(resolution))) - 2 if resolution > 0 else -1
    if level < 0 or 4 * 2 ** level != resolution:
        raise GanforgeError(f"Resolution {resolution} is not supported; expected a power of two of at least 4.")
    return level


def resolution_of(level: int) -> int:
    """The side in pixels of a level (0 -> 4)."""
    return 4 * 2 ** level
