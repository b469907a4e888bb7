"""Option groups that several families declare, each written once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def check_betas(betas: Any, what: str) -> None:
    """Reject Adam (β1, β2) that are not two numbers in [0, 1); None (the run's beta1, beta2) passes. `what` names the
    setting in the message, e.g. "StyleGAN option betas"."""
    if betas is None:
        return
    if not (isinstance(betas, (list, tuple)) and len(betas) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        raise GanforgeError(f"{what}={betas!r} is invalid; expected two numbers in [0, 1) (Adam's beta1, beta2), or null for the run's.")
