"""Point data for the toy games: 1-D and 2-D mixtures of Gaussians with known, exact densities.

The 2-D layouts are the benchmarks of the mode-collapse papers (Metz et al. 2017, Srivastava et al.
2017 "VEEGAN", Lin et al. 2018 "PacGAN"): ``ring8`` is 8 Gaussians at (cos 2πi/8, sin 2πi/8) with
σ = 0.01 and ``grid25`` is 25 Gaussians at {-4, -2, 0, 2, 4}² with σ = 0.05, both with uniform weights.
Batches are drawn afresh from the mixture, each from a generator seeded by (seed, batch number), so a
source's whole state is one integer and a resumed run sees the very same points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.errors import GanforgeError

POINTS = "points"  #: the batch key under which point data travel, (N, d) float


@dataclass(frozen=True)
class GaussianMixture:
    """An isotropic Gaussian mixture: means (K, d), one σ for every component, weights summing to 1."""

    name: str
    means: tuple  # K tuples of d floats
    sigma: float
    weights: tuple = ()  # empty: uniform

    @property
    def dim(self) -> int:
        """Dimension d of the points."""
        return len(self.means[0])

    @property
    def num_modes(self) -> int:
        """Number of components K."""
        return len(self.means)

    def mean_tensor(self) -> Tensor:
        """The means as a float64 (K, d) tensor."""
        return torch.tensor(self.means, dtype=torch.float64)

    def weight_tensor(self) -> Tensor:
        """The mixing weights as a float64 (K,) tensor (uniform when none were given)."""
        if not self.weights:
            return torch.full((self.num_modes,), 1.0 / self.num_modes, dtype=torch.float64)
        return torch.tensor(self.weights, dtype=torch.float64)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """`n` points (float32, (n, d)) drawn with `generator` (CPU)."""
        component = torch.multinomial(self.weight_tensor(), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.mean_tensor()[component] + self.sigma * noise).float()

    def log_prob(self, x: Tensor, extra_variance: float = 0.0) -> Tensor:
        """Exact log density at points x (N, d), float64; `extra_variance` h² gives the mixture convolved with N(0, h²I)."""
        x = x.to(torch.float64).reshape(-1, self.dim)
        var = self.sigma ** 2 + extra_variance
        sq = torch.cdist(x, self.mean_tensor()).square()  # (N, K)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * var)
        return torch.logsumexp(self.weight_tensor().log() - 0.5 * sq / var, dim=1) + log_norm

    def density(self, x: Tensor, extra_variance: float = 0.0) -> Tensor:
        """Exact density at points x (N, d), float64."""
        return self.log_prob(x, extra_variance).exp()

    def extent(self, margin: float = 0.5) -> tuple[float, float]:
        """A square range (low, high) covering every mean with `margin` to spare, for plots."""
        m = self.mean_tensor()
        return float(m.min()) - margin - 3 * self.sigma, float(m.max()) + margin + 3 * self.sigma


def _ring(k: int, radius: float, sigma: float, name: str) -> GaussianMixture:
    means = tuple((radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)) for i in range(k))
    return GaussianMixture(name, means, sigma)


def _grid(side: int, spacing: float, sigma: float, name: str) -> GaussianMixture:
    half = (side - 1) / 2
    coords = [spacing * (i - half) for i in range(side)]
    return GaussianMixture(name, tuple((x, y) for x in coords for y in coords), sigma)


#: named mixtures (spec, lower case); PacGAN's layouts are ring8 and grid25
MIXTURES = {
    "ring8": _ring(8, 1.0, 0.01, "ring8"),
    "grid25": _grid(5, 2.0, 0.05, "grid25"),
    "gauss1d": GaussianMixture("gauss1d", ((1.0,),), 0.5),
    "mix1d": GaussianMixture("mix1d", ((-2.0,), (0.0,), (2.0,)), 0.2),
    "ring8-wide": _ring(8, 2.0, 0.05, "ring8-wide"),
}


def is_mixture(spec: object) -> bool:
    """True if `spec` names a built-in point mixture."""
    return isinstance(spec, str) and spec.strip().lower() in MIXTURES


def get_mixture(spec: str) -> GaussianMixture:
    """The named mixture, or a clear error listing the known ones."""
    key = str(spec).strip().lower() if spec is not None else ""
    if key not in MIXTURES:
        raise GanforgeError(f"Point data {spec!r} is unknown; expected one of {', '.join(MIXTURES)}.")
    return MIXTURES[key]


@dataclass(frozen=True, eq=False)
class PointInfo(DataInfo):
    """DataInfo of point data: the mixture (dimension, modes, σ) the points come from."""

    mixture: GaussianMixture = field(default=None)

    @property
    def dim(self) -> int:
        """Dimension of the points."""
        return self.mixture.dim


class PointSource:
    """Batches of fresh points from a mixture, reproducible and resumable to the exact batch.

    Batch k of process `rank` is drawn from a generator seeded by (seed, rank, k); the state is k.
    An "epoch" is `epoch_points` points, only so that --epochs budgets mean something.
    """

    def __init__(self, mixture: GaussianMixture, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world_size: int = 1, epoch_points: int = 100_000):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GanforgeError(f"Batch size {batch_size!r} is invalid; expected a positive integer.")
        if not 0 <= rank < world_size:
            raise GanforgeError(f"Rank {rank!r} is invalid for world size {world_size!r}; expected 0 <= rank < world size.")
        self.mixture, self.batch_size, self.seed = mixture, batch_size, seed
        self.device, self.rank, self.world_size = device, rank, world_size
        self.epoch_points = epoch_points
        self.position = 0
        self.info = PointInfo(channels=1, image_size=0, mixture=mixture)

    @property
    def steps_per_epoch(self) -> int:
        """Batches per `epoch_points` points (per process)."""
        return max(1, self.epoch_points // (self.batch_size * self.world_size))

    def next(self) -> dict[str, Tensor]:
        """The next batch: {"points": float (B, d)} on the device."""
        g = torch.Generator().manual_seed(((self.seed * 1_000_003 + self.rank) * 1_000_000_007 + self.position) % 2 ** 63)
        self.position += 1
        return {POINTS: self.mixture.sample(self.batch_size, g).to(self.device)}

    def state_dict(self) -> dict:
        """How many batches this source has drawn."""
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        """Continue after a saved number of batches."""
        self.position = int(state["position"])
