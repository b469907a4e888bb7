"""Channel widths of players whose width doubles at every halving of the resolution."""
from __future__ import annotations

CHANNEL_MAX = 512  #: the ceiling's default, StyleGAN2's and FastGAN's widest layer


def capped_width(width: int, doublings: int, channel_max: int = CHANNEL_MAX) -> int:
    """`width`·2^`doublings`, no wider than `channel_max` (0: no ceiling)."""
    full = width * 2 ** doublings
    return min(full, channel_max) if channel_max > 0 else full
