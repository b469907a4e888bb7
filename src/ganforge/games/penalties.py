"""The regularisers a game declares for its discriminators (read by the toolkit and by `Game.twice_differentiated`)."""
from __future__ import annotations

from dataclasses import dataclass

from ganforge.errors import GanforgeError


@dataclass(frozen=True)
class Penalties:
    """The regularisers a game adds to D's loss; a weight of 0 turns one off."""

    r1_gamma: float = 0.0  #: γ of R1, γ/2·E‖∇D(x)‖² on real images (Mescheder et al. 2018)
    r2_gamma: float = 0.0  #: γ of R2, γ/2·E‖∇D(G(z))‖² on generated images (Mescheder et al. 2018; R3GAN, Huang et al. 2024)
    gp_weight: float = 0.0  #: λ of WGAN-GP's λ·E(‖∇D(x̂)‖ − 1)² (Gulrajani et al. 2017)
    interval: int = 1  #: lazy regularisation: R1 and R2 every `interval` D steps, weighted by `interval` (Karras et al. 2020)

    def __post_init__(self) -> None:
        for name in ("r1_gamma", "r2_gamma", "gp_weight"):
            if not getattr(self, name) >= 0:
                raise GanforgeError(f"Penalty weight {name}={getattr(self, name)!r} is invalid; expected a number >= 0.")
        if self.interval < 1:
            raise GanforgeError(f"Penalty interval={self.interval!r} is invalid; expected an integer >= 1.")

    @property
    def any(self) -> bool:
        """Whether some penalty is on, so that D's forward pass is differentiated twice."""
        return self.r1_gamma > 0 or self.r2_gamma > 0 or self.gp_weight > 0

    def lazy_due(self, d_step: int) -> bool:
        """Whether R1 and R2 are evaluated on the D step numbered `d_step` (from 0)."""
        return d_step % self.interval == 0


NO_PENALTIES = Penalties()

