"""PacGAN packing (Lin, Khetan, Fanti & Oh 2018): the discriminator judges m samples at once.

Consecutive samples of a batch are joined along the channel (or feature) axis, so a batch of N
samples becomes N / m packed inputs with m times the channels and D returns N / m logits. Samples
of one pack share a source (all real or all generated), which is what lets D see a lack of variety.
"""
from __future__ import annotations

from torch import Tensor

from ganforge.errors import GanforgeError


def check_pack(pack: int) -> int:
    """`pack` itself if it is a positive integer, else a clear error."""
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
        raise GanforgeError(f"Packing pack={pack!r} is invalid; expected an integer >= 1 (PacGAN uses 2 to 4).")
    return pack


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """(N, C, ...) -> (N / pack, pack·C, ...): each group of `pack` consecutive samples joined on axis 1."""
    if pack == 1:
        return x
    n = x.shape[0]
    if n % pack:
        raise GanforgeError(f"A batch of {n} samples cannot be packed by {pack}; expected a batch size divisible by pack.")
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])
