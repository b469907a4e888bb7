"""Option groups that several families declare, each written once."""
from __future__ import annotations

from dataclasses import dataclass

from ganforge.errors import GanforgeError
from ganforge.nn.widths import CHANNEL_MAX


@dataclass
class ChannelCeiling:
    """The width ceiling of families whose channels double at every halving of the resolution (DCGAN, cGAN, VAE)."""

    #: channels of the widest layer at most (StyleGAN2's and FastGAN's 512); 0: no ceiling. At the default width
    #: 64 the 32 and 64 px players never reach it; it keeps 128 and 256 px players from growing to 1,024-2,048 channels
    channel_max: int = CHANNEL_MAX

    def check_channel_max(self) -> None:
        """Reject a negative ceiling."""
        if self.channel_max < 0:
            raise GanforgeError(f"Option channel_max={self.channel_max!r} is invalid; expected an integer >= 1, or 0 for no ceiling.")
